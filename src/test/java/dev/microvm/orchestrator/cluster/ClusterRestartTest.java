package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.testing.FreePorts;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A task of alpha (this JVM, the home host) runs on beta (a {@code serve --cluster} daemon); both
 * use the process driver with the real task runner, whose "VMs" outlive their orchestrator like
 * real ones. Either host restarts while the task runs, and the task's work still comes home:
 * <ul>
 *   <li>home restarts: it follows the task again instead of adopting it as a local one; beta,
 *       which finished meanwhile, sends the result again and alpha merges it;</li>
 *   <li>beta is SIGKILLed and restarted: alpha reports the task node_lost at once; beta recovers
 *       its VM, and the finished work is saved on refs/tasks/&lt;id&gt; at home, not merged.</li>
 * </ul>
 */
@Tag("cluster")
class ClusterRestartTest {

    @TempDir Path tmp;
    private Process beta;
    private ClusterVertx.Started alpha;
    private Node alphaNode;
    private final int[] ports = new int[4];
    private Path certs;
    private JsonArray members;
    private Path betaState;
    private Path repo;

    @BeforeEach
    void hosts() throws Exception {
        certs = tmp.resolve("certs");
        ClusterCerts.forThisJvm().create(certs, "lab", List.of("alpha", "beta"));
        System.arraycopy(FreePorts.distinct(ports.length), 0, ports, 0, ports.length);
        members = new JsonArray().add("alpha@127.0.0.1:" + ports[0]).add("beta@127.0.0.1:" + ports[2]);
        betaState = Files.createDirectories(tmp.resolve("beta"));
        Files.writeString(betaState.resolve("config.json"), new JsonObject().put("slots", 1).put("driver", "process")
                .put("guest_dir", tmp.resolve("no-guest").toString()).put("http_port", 0).put("stop_grace_seconds", 5).encode());
        Files.writeString(betaState.resolve("cluster.json"), clusterJson("beta", ports[2], ports[3]).encode());
        startBeta();
        startAlpha();
        repo = GitRepos.create(tmp.resolve("project"));
        alphaNode.repos().allow(repo, "project");
        awaitUp(2);
    }

    @AfterEach
    void stop() throws Exception {
        if (beta != null && beta.isAlive()) {
            beta.destroy();
            if (!beta.waitFor(20, TimeUnit.SECONDS)) beta.destroyForcibly();
        }
        stopAlpha();
        // the runners of both hosts outlive their orchestrators on purpose; not the test
        ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains(tmp.toString())).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void aRestartedHomeHostFollowsItsTaskOnAnotherHostAndMergesItsWork() throws Exception {
        JsonObject occupy = submit("occupy alpha", "sleep 25 && echo a > a.txt && git add a.txt && git commit -q -m a");
        assertThat(occupy.getString("node")).isEqualTo("alpha");
        JsonObject away = submit("run on beta", "echo agent-on-beta && sleep 6 && echo b > b.txt && git add b.txt && git commit -q -m 'Add b'");
        assertThat(away.getString("node")).isEqualTo("beta");
        String id = away.getString("task_id");
        awaitStatus(id, "running");

        stopAlpha();
        awaitBetaShadowsFinished();
        startAlpha();

        JsonObject done = awaitTerminal(id, 120);
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(done.getString("node")).isEqualTo("beta");
        assertThat(done.getJsonObject("merge_result").getBoolean("merged")).isTrue();
        assertThat(GitRepos.git(repo, "show", "main:b.txt")).isEqualTo("b");
        assertThat(request(Addresses.TASK_LOGS, new JsonObject().put("task_id", id).put("stream", "agent")).getString("content"))
                .contains("agent-on-beta");
        assertThat(awaitTerminal(occupy.getString("task_id"), 120).getString("status")).isEqualTo("completed");
        assertThat(GitRepos.git(repo, "ls-tree", "--name-only", "main")).contains("a.txt", "b.txt");
        assertThat(GitRepos.git(repo, "fsck", "--strict")).doesNotContain("error");
        awaitBetaCleanedUp();
    }

    @Test
    void aRestartedExecutingHostSendsTheWorkItFinishedHomeToRefsTasks() throws Exception {
        JsonObject occupy = submit("occupy alpha", "sleep 20 && echo a > a.txt && git add a.txt && git commit -q -m a");
        assertThat(occupy.getString("node")).isEqualTo("alpha");
        JsonObject away = submit("run on beta", "sleep 8 && echo c > c.txt && git add c.txt && git commit -q -m 'Add c'");
        assertThat(away.getString("node")).isEqualTo("beta");
        String id = away.getString("task_id");
        awaitStatus(id, "running");

        beta.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        JsonObject lost = awaitTerminal(id, 30);
        assertThat(lost.getString("status")).isEqualTo("failed");
        assertThat(lost.getString("reason")).isEqualTo(NodeRequests.NODE_LOST);
        startBeta();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        // the commits land on refs/tasks first, then the record notes them
        while (GitRepos.git(repo, "for-each-ref", "refs/tasks/" + id).isBlank()
                || !request(Addresses.TASK_GET, new JsonObject().put("task_id", id)).getString("error", "").contains("saved on refs/tasks/")) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the work of " + id + " never came home; beta's tasks: " + betaRecords()
                        + "\nbeta's events: " + Files.readString(betaState.resolve("events").resolve("events.jsonl"))
                        + "\nbeta's log: " + Files.readAllLines(tmp.resolve("beta.log")).stream()
                                .filter(l -> l.contains("d.m.o.c") || l.contains("cluster")).toList());
            }
            Thread.sleep(300);
        }
        assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "refs/tasks/" + id)).isEqualTo("Add c");
        JsonObject after = request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
        assertThat(after.getString("status")).as("not reopened").isEqualTo("failed");
        assertThat(after.getString("error")).contains("saved on refs/tasks/" + id);
        assertThat(GitRepos.git(repo, "ls-tree", "--name-only", "main")).doesNotContain("c.txt");
        awaitBetaCleanedUp();
    }

    // ---------------------------------------------------------------- hosts

    private void startBeta() throws Exception {
        beta = JavaProcess.builder(Main.class, "serve", "--state-dir", betaState.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(tmp.resolve("beta.log").toFile())).start();
    }

    private void startAlpha() throws Exception {
        alpha = ClusterVertx.start(ClusterConfig.fromJson(clusterJson("alpha", ports[0], ports[1]), tmp), new VertxOptions());
        Path state = tmp.resolve("alpha");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        alphaNode = Node.start(alpha.vertx(), new StatePaths(state), new Node.Options(config, new ProcessDriver(), "alpha",
                Clock.systemUTC(), UnaryOperator.identity()).withPlacement(ClusterServices.placement(alpha, "alpha"))).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        ClusterServices.deploy(alphaNode, alpha).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private void stopAlpha() throws Exception {
        if (alphaNode != null) alphaNode.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (alpha != null) alpha.cacheManager().stop();
        alphaNode = null;
        alpha = null;
    }

    /** Beta's shadow tasks have all ended (while alpha is away). */
    private void awaitBetaShadowsFinished() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (true) {
            List<JsonObject> records = betaRecords();
            if (!records.isEmpty() && records.stream().allMatch(r -> List.of("completed", "failed", "cancelled").contains(r.getString("status")))) return;
            if (System.nanoTime() > deadline) throw new AssertionError("beta's tasks: " + records);
            Thread.sleep(300);
        }
    }

    private List<JsonObject> betaRecords() throws Exception {
        Path tasks = betaState.resolve("tasks");
        if (!Files.isDirectory(tasks)) return List.of();
        try (var dirs = Files.list(tasks)) {
            return dirs.map(d -> d.resolve("task.json")).filter(Files::isRegularFile).map(f -> {
                try {
                    return new JsonObject(Files.readString(f));
                } catch (Exception e) {
                    return new JsonObject().put("status", "unreadable");
                }
            }).toList();
        }
    }

    /** Once home holds the work, beta keeps no work tree, inputs, task ref or shadow file of it. */
    private void awaitBetaCleanedUp() throws Exception {
        Path cache = RemoteExecutionVerticle.cacheRoot(betaState);
        Path cached = cache.resolve("alpha").resolve("project");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<Path> left;
            try (var dirs = Files.list(betaState.resolve("tasks"))) {
                left = dirs.flatMap(d -> java.util.stream.Stream.of(d.resolve("workspace"), d.resolve("io"))).filter(Files::exists).toList();
            }
            List<Path> shadowFiles;
            try (var files = Files.list(Files.createDirectories(cache.resolve(".shadows")))) {
                shadowFiles = files.toList();
            }
            String refs = GitRepos.git(cached, "for-each-ref", "refs/tasks/");
            if (left.isEmpty() && refs.isBlank() && shadowFiles.isEmpty()) return;
            if (System.nanoTime() > deadline) throw new AssertionError("beta still holds " + left + shadowFiles + " and refs " + refs);
            Thread.sleep(300);
        }
    }

    // ---------------------------------------------------------------- requests

    private JsonObject submit(String description, String agent) throws Exception {
        return request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", "project").put("description", description)
                .put("caller", "test").put("options", new JsonObject().put("agent_command", agent)));
    }

    private JsonObject request(String address, JsonObject body) throws Exception {
        return alpha.vertx().eventBus().<JsonObject>request(address, body).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).body();
    }

    private JsonObject awaitTerminal(String id, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
            if (List.of("completed", "failed", "cancelled").contains(rec.getString("status"))) return rec;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + id + " still " + rec.encodePrettily());
            Thread.sleep(200);
        }
    }

    private void awaitStatus(String id, String status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!status.equals(request(Addresses.TASK_GET, new JsonObject().put("task_id", id)).getString("status"))) {
            if (System.nanoTime() > deadline) throw new AssertionError("task " + id + " never " + status);
            Thread.sleep(100);
        }
    }

    private void awaitUp(int hosts) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            JsonObject nodes = request(Addresses.CLUSTER_NODES, new JsonObject());
            if (nodes.getJsonArray("nodes").stream().filter(o -> "up".equals(((JsonObject) o).getString("state"))).count() == hosts) return;
            Thread.sleep(300);
        }
        throw new AssertionError("members " + alpha.membership().members());
    }

    private JsonObject clusterJson(String name, int membership, int bus) {
        return new JsonObject().put("cluster_name", "lab").put("node_name", name).put("bind_host", "127.0.0.1")
                .put("membership_port", membership).put("event_bus_port", bus).put("members", members).put("certs_dir", certs.toString());
    }
}
