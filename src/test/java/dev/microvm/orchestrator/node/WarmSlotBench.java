package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Benchmark main (scripts/bench/warm-slot.sh): how long a task takes from submission to its agent's
 * start (the runner's "running agent command" console line, seen on the host) with no setup, with
 * a cold setup of at least {@code setupSeconds}, and warm (same repository and setup key on the
 * same slot: setup skipped, caches restored). Prints one line per task and the ratios.
 */
public final class WarmSlotBench {
    static final String AGENT_STARTED = "mvo-runner: running agent command";

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        Path guest = Path.of(args[1]);
        String accel = args[2];
        int rounds = Integer.parseInt(args[3]);
        int setupSeconds = Integer.parseInt(args[4]);
        Path plain = GitRepos.create(work.resolve("plain"));
        Path warm = WarmSlotVmTest.repoWithEnvironment(work.resolve("warm"), "{\"setup\": [\"sleep " + setupSeconds
                + " && mkdir -p node_modules/.bin && date +%s > node_modules/marker\"], \"cache\": [\"node_modules\"], \"setup_inputs\": [\"package-lock.json\"]}");
        Path state = work.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", guest, 1).merge(new JsonObject().put("accelerator", accel), "bench");
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(plain, "plain");
            f.node.repos().allow(warm, "warm");
            toAgentStart(f, "plain", "warm-up");
            long cold = toAgentStart(f, "warm", "cold setup");
            List<Long> none = new ArrayList<>();
            List<Long> warmed = new ArrayList<>();
            for (int i = 1; i <= rounds; i++) {
                none.add(toAgentStart(f, "plain", "no setup " + i));
                warmed.add(toAgentStart(f, "warm", "warm " + i));
            }
            long noneMedian = median(none);
            long warmMedian = median(warmed);
            System.out.printf("median to agent start: no setup %d ms, warm %d ms, cold %d ms%n", noneMedian, warmMedian, cold);
            double ratio = (double) warmMedian / noneMedian;
            System.out.printf("ratio warm/no-setup: %.2f (goal <= 1.20: %s)%n", ratio, ratio <= 1.2 ? "met" : "NOT met");
            System.out.printf("ratio cold/no-setup: %.2f; cold setup costs %d ms%n", (double) cold / noneMedian, cold - noneMedian);
        }
        System.exit(0);
    }

    /** Submission → the agent's start as the host sees it on the console; then waits for the task to end. */
    static long toAgentStart(NodeFixture f, String repo, String label) throws Exception {
        long start = System.nanoTime();
        String id = f.submit(repo, label, new JsonObject().put("agent_command", "echo agent-ran")).getString("task_id");
        Path console = f.node.paths().taskConsoleLog(id);
        long ms = -1;
        long deadline = start + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.isRegularFile(console) && Files.readString(console).contains(AGENT_STARTED)) {
                ms = (System.nanoTime() - start) / 1_000_000;
                break;
            }
            Thread.sleep(20);
        }
        JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(5));
        if (ms < 0) throw new IllegalStateException(label + ": the agent never started: " + done.encode());
        String text = Files.readString(console);
        String setup = text.contains("setup skipped") ? "setup skipped" : text.contains("setup: done") ? "setup ran" : "no setup";
        System.out.println("task " + label + ": " + ms + " ms to agent start (" + setup + ")");
        return ms;
    }

    private static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
