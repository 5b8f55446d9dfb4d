package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Does the event log's cost stay flat as it grows? Fills one state directory with a large log and
 * another with a small one, then, in the same run, measures on both:
 * <ul>
 *   <li>events after N: {@code readAfter(N, 100)} for random N (interleaved, so both see the same JIT and cache state);</li>
 *   <li>delivery: tasks on the process driver, one at a time through the MCP server, alternating
 *       between the two logs; the time from the terminal event's append having returned (the
 *       node announces it on the bus right then) to {@code wait_next_event} returning it.</li>
 * </ul>
 * Prints p50/p99 and the ratios large/small; exits 1 when a ratio is above 1.5 or a delivery p99
 * is above 50 ms.
 *
 * <p>Arguments: large-events small-events tasks reads.
 */
public final class EventLogScaleBench {

    public static void main(String[] args) throws Exception {
        int large = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int small = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        int tasks = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        int reads = args.length > 3 ? Integer.parseInt(args[3]) : 5_000;
        String dir = System.getenv("BENCH_DIR"); // where the state directories go (default: the temporary directory)
        Path root = dir == null || dir.isBlank() ? Files.createTempDirectory("mvo-log-bench")
                : Files.createTempDirectory(Files.createDirectories(Path.of(dir)), "mvo-log-bench");
        try {
            Path bigState = root.resolve("large");
            Path smallState = root.resolve("small");
            long t0 = System.nanoTime();
            fill(new StatePaths(bigState), large);
            fill(new StatePaths(smallState), small);
            System.out.printf("filled logs: %,d and %,d events (%,d MB and %,d KB) in %.1f s%n", large, small,
                    Files.size(new StatePaths(bigState).eventLog()) >> 20, Files.size(new StatePaths(smallState).eventLog()) >> 10,
                    (System.nanoTime() - t0) / 1e9);

            double[][] readTimes = readAfterLatencies(new StatePaths(bigState), large, new StatePaths(smallState), small, reads);
            Stats bigRead = Stats.of(readTimes[0]);
            Stats smallRead = Stats.of(readTimes[1]);
            System.out.printf("events after N (100 events, %d reads each): large p50 %.3f ms p99 %.3f ms | small p50 %.3f ms p99 %.3f ms%n",
                    reads, bigRead.p50, bigRead.p99, smallRead.p50, smallRead.p99);

            double[][] delivery = deliveryLatencies(root, bigState, smallState, tasks);
            Stats bigDelivery = Stats.of(delivery[0]);
            Stats smallDelivery = Stats.of(delivery[1]);
            Stats bigFromTs = Stats.of(delivery[2]);
            Stats smallFromTs = Stats.of(delivery[3]);
            System.out.printf("delivery (%d tasks each): large p50 %.1f ms p99 %.1f ms max %.1f ms | small p50 %.1f ms p99 %.1f ms max %.1f ms%n",
                    tasks, bigDelivery.p50, bigDelivery.p99, bigDelivery.max, smallDelivery.p50, smallDelivery.p99, smallDelivery.max);

            System.out.printf("  the same from the event's timestamp (its own write and fsync included): large p50 %.1f ms p99 %.1f ms | small p50 %.1f ms p99 %.1f ms%n",
                    bigFromTs.p50, bigFromTs.p99, smallFromTs.p50, smallFromTs.p99);
            double readRatio = bigRead.p50 / smallRead.p50;
            double readRatio99 = bigRead.p99 / smallRead.p99;
            double deliveryRatio = bigDelivery.p50 / smallDelivery.p50;
            double deliveryRatio99 = bigDelivery.p99 / smallDelivery.p99;
            System.out.printf("RATIO events-after-N large/small: p50 %.2fx p99 %.2fx (limit 1.5x)%n", readRatio, readRatio99);
            System.out.printf("RATIO delivery large/small: p50 %.2fx p99 %.2fx (limit 1.5x); delivery p99 large %.1f ms small %.1f ms (limit 50 ms)%n",
                    deliveryRatio, deliveryRatio99, bigDelivery.p99, smallDelivery.p99);
            boolean ok = readRatio <= 1.5 && deliveryRatio <= 1.5 && deliveryRatio99 <= 1.5
                    && bigDelivery.p99 <= 50 && smallDelivery.p99 <= 50;
            System.out.println(ok ? "PASS" : "FAIL");
            System.exit(ok ? 0 : 1);
        } finally {
            deleteTree(root);
        }
    }

    /** Console lines of finished tasks, with their state changes, as a real log mostly is. */
    private static void fill(StatePaths paths, int events) {
        EventLog log = new EventLog(paths.eventLog(), Clock.systemUTC());
        List<EventLog.Draft> batch = new ArrayList<>();
        String line = "[  12.345678] agent: {\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"working\"}]}}";
        for (int i = 0; i < events; i++) {
            String task = "t-old" + (i / 50);
            batch.add(i % 50 == 0
                    ? new EventLog.Draft(EventTypes.TASK_STATE, task, new JsonObject().put("state", "COMPLETED").put("caller", "someone-else"))
                    : new EventLog.Draft(EventTypes.TASK_LOG, task, new JsonObject().put("stream", "console")
                            .put("lines", new JsonArray().add(line).add(line))));
            if (batch.size() == 10_000) {
                log.appendAll(batch);
                batch.clear();
            }
        }
        log.appendAll(batch);
    }

    private static double[][] readAfterLatencies(StatePaths big, int bigCount, StatePaths small, int smallCount, int reads) {
        EventLog bigLog = new EventLog(big.eventLog(), Clock.systemUTC());
        EventLog smallLog = new EventLog(small.eventLog(), Clock.systemUTC());
        Random random = new Random(7);
        double[] bigTimes = new double[reads];
        double[] smallTimes = new double[reads];
        for (int warm = 0; warm < 500; warm++) {
            bigLog.readAfter(random.nextInt(bigCount), 100);
            smallLog.readAfter(random.nextInt(smallCount), 100);
        }
        for (int i = 0; i < reads; i++) {
            long a = System.nanoTime();
            int got = bigLog.readAfter(random.nextInt(Math.max(1, bigCount - 100)), 100).size();
            long b = System.nanoTime();
            got += smallLog.readAfter(random.nextInt(Math.max(1, smallCount - 100)), 100).size();
            long c = System.nanoTime();
            if (got != 200) throw new IllegalStateException("short read: " + got);
            bigTimes[i] = (b - a) / 1e6;
            smallTimes[i] = (c - b) / 1e6;
        }
        return new double[][] {bigTimes, smallTimes};
    }

    /**
     * Two real nodes with the process driver, one per log, side by side in this process; tasks
     * alternate between them, one at a time (run_task, then wait_next_event), so both see the same
     * load from the rest of the machine.
     */
    private static double[][] deliveryLatencies(Path root, Path bigState, Path smallState, int tasks) throws Exception {
        int warmup = 30; // also lets the JIT settle
        double[][] out = new double[4][tasks];
        try (Session big = Session.start(root.resolve("repo-large"), bigState);
             Session small = Session.start(root.resolve("repo-small"), smallState)) {
            for (int i = -warmup; i < tasks; i++) {
                double[] b = big.oneTask(i + warmup);
                double[] s = small.oneTask(i + warmup);
                if (i >= 0) {
                    out[0][i] = b[0];
                    out[1][i] = s[0];
                    out[2][i] = b[1];
                    out[3][i] = s[1];
                }
            }
        }
        return out;
    }

    /** A node on one state directory and an MCP server in front of it. */
    private record Session(NodeFixture fixture, PipedMcpClient client, Map<String, Long> appendedNanos) implements AutoCloseable {

        static Session start(Path repoDir, Path state) throws Exception {
            Path repo = GitRepos.create(repoDir);
            OrchestratorConfig config = NodeFixture.config(state, "process", state.resolve("no-guest"), 2);
            NodeFixture f = NodeFixture.start(state, config, new ProcessDriver());
            f.node.repos().allow(repo, "project");
            // the node announces an event on the bus as soon as its append to the log has returned
            Map<String, Long> appended = new ConcurrentHashMap<>();
            f.node.vertx().eventBus().<JsonObject>localConsumer(Addresses.EVENTS, m -> {
                JsonObject e = m.body();
                if (EventTypes.TASK_STATE.equals(e.getString("type"))
                        && "completed".equalsIgnoreCase(e.getJsonObject("data").getString("state"))) {
                    appended.put(e.getString("task_id"), System.nanoTime());
                }
            });
            PipedMcpClient client = new PipedMcpClient();
            McpSettings settings = new McpSettings(new StatePaths(state), "bench-caller", client.serverIn, client.serverOut,
                    McpSettings.DEFAULT_PROGRESS, McpSettings.DEFAULT_POLL, Duration.ofSeconds(60), Duration.ofSeconds(30), "bench");
            f.node.vertx().deployVerticle(new McpVerticle(settings, () -> {})).await();
            client.initialize();
            return new Session(f, client, appended);
        }

        /**
         * Milliseconds to wait_next_event handing the terminal event out: from its append having
         * returned, and from its timestamp (taken before the line is written and forced to disk).
         */
        double[] oneTask(int n) throws Exception {
            String file = "f" + n + ".txt";
            JsonObject run = client.callTool("run_task", new JsonObject().put("repo", "project").put("description", "bench " + n)
                    .put("agent_command", "echo x > " + file + " && git add " + file + " && git commit -qm " + file));
            if (run.getBoolean("isError")) throw new IllegalStateException(run.encode());
            String id = run.getJsonObject("structuredContent").getString("task_id");
            JsonObject waited = client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 60_000));
            long returned = System.nanoTime();
            java.time.Instant returnedAt = java.time.Instant.now();
            JsonObject event = waited.getJsonObject("structuredContent");
            if (!id.equals(event.getString("task_id")) || !"completed".equalsIgnoreCase(event.getString("status"))) {
                throw new IllegalStateException("expected " + id + " completed, got " + event.encode());
            }
            // the waiter may find the event in the log before the announcement reaches this consumer
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!appendedNanos.containsKey(id) && System.nanoTime() < deadline) Thread.sleep(1);
            Long appendedAt = appendedNanos.remove(id);
            if (appendedAt == null) throw new IllegalStateException("the completion of " + id + " was not announced");
            return new double[] {Math.max(0, returned - appendedAt) / 1e6,
                    Duration.between(java.time.Instant.parse(event.getString("timestamp")), returnedAt).toNanos() / 1e6};
        }

        @Override
        public void close() throws Exception {
            client.close();
            fixture.close();
        }
    }

    private record Stats(double p50, double p99, double max) {
        static Stats of(double[] values) {
            double[] sorted = values.clone();
            java.util.Arrays.sort(sorted);
            return new Stats(sorted[(int) Math.floor(0.50 * (sorted.length - 1))], sorted[(int) Math.ceil(0.99 * (sorted.length - 1))],
                    sorted[sorted.length - 1]);
        }
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        try (var walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
