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
 * Alpha (this JVM) and beta (a {@code serve --cluster} daemon), both with the process driver
 * running the real task runner: a task running on beta is cancelled from alpha, and the next one
 * runs on beta, comes home and is merged, with its diff, logs and events readable at alpha.
 */
@Tag("cluster")
class ClusterRemoteTaskTest {

    @TempDir Path tmp;
    private Process beta;
    private ClusterVertx.Started alpha;
    private Node alphaNode;

    @AfterEach
    void stop() throws Exception {
        if (beta != null && beta.isAlive()) {
            beta.destroy();
            if (!beta.waitFor(20, TimeUnit.SECONDS)) beta.destroyForcibly();
        }
        if (alphaNode != null) alphaNode.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        Path betaState = tmp.resolve("beta");
        ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains(betaState.toString())).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void aTaskOnAnotherHostIsCancelledFromHomeAndTheNextOneIsMergedAtHome() throws Exception {
        Path certs = tmp.resolve("certs");
        ClusterCerts.forThisJvm().create(certs, "lab", List.of("alpha", "beta"));
        int[] ports = FreePorts.distinct(4);
        JsonArray members = new JsonArray().add("alpha@127.0.0.1:" + ports[0]).add("beta@127.0.0.1:" + ports[2]);
        Path betaState = Files.createDirectories(tmp.resolve("beta"));
        Files.writeString(betaState.resolve("config.json"), new JsonObject().put("slots", 1).put("driver", "process")
                .put("guest_dir", tmp.resolve("no-guest").toString()).put("http_port", 0).put("stop_grace_seconds", 5).encode());
        Files.writeString(betaState.resolve("cluster.json"), clusterJson("beta", ports[2], ports[3], members, certs).encode());
        beta = JavaProcess.builder(Main.class, "serve", "--state-dir", betaState.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("beta.log").toFile()).start();

        alpha = ClusterVertx.start(ClusterConfig.fromJson(clusterJson("alpha", ports[0], ports[1], members, certs), tmp), new VertxOptions());
        Path state = tmp.resolve("alpha");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        alphaNode = Node.start(alpha.vertx(), new StatePaths(state), new Node.Options(config, new ProcessDriver(), "alpha",
                Clock.systemUTC(), UnaryOperator.identity()).withPlacement(ClusterServices.placement(alpha, "alpha"))).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        ClusterServices.deploy(alphaNode, alpha).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        Path repo = GitRepos.create(tmp.resolve("project"));
        alphaNode.repos().allow(repo, "project");
        awaitUp(2);
        for (Object o : request(Addresses.CLUSTER_NODES, new JsonObject()).getJsonArray("nodes")) {
            JsonObject offer = (JsonObject) o;
            assertThat(offer.getBoolean("healthy")).as("each member offers its driver's health: " + offer.encode()).isTrue();
            assertThat(offer.getJsonObject("fingerprint").getString("driver")).isEqualTo("process");
        }

        JsonObject home = submit("occupy alpha", "sleep 20 && echo a > a.txt && git add a.txt && git commit -q -m a");
        assertThat(home.getString("node")).isEqualTo("alpha");
        JsonObject doomed = submit("cancel me", "sleep 60 && echo x > x.txt && git add x.txt && git commit -q -m x");
        assertThat(doomed.getString("node")).isEqualTo("beta");
        String doomedId = doomed.getString("task_id");
        awaitStatus(doomedId, "running");
        JsonObject cancel = request(Addresses.TASK_CANCEL, new JsonObject().put("task_id", doomedId));
        assertThat(cancel.getString("note")).contains("beta");
        JsonObject cancelled = awaitTerminal(doomedId);
        assertThat(cancelled.getString("status")).as(cancelled.encodePrettily()).isEqualTo("cancelled");
        assertThat(cancelled.getString("node")).isEqualTo("beta");

        JsonObject away = submit("run on beta", "echo agent-on-beta-says-hello && echo b > b.txt && git add b.txt && git commit -q -m 'Add b'");
        assertThat(away.getString("node")).isEqualTo("beta");
        String id = away.getString("task_id");
        JsonObject done = awaitTerminal(id);
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(done.getJsonObject("merge_result").getBoolean("merged")).isTrue();
        assertThat(done.getInteger("exit_code")).isZero();
        assertThat(GitRepos.git(repo, "show", "main:b.txt")).isEqualTo("b");
        assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "refs/tasks/" + id)).isEqualTo("Add b");
        assertThat(request(Addresses.TASK_DIFF, new JsonObject().put("task_id", id)).getString("patch")).contains("+b");
        assertThat(request(Addresses.TASK_LOGS, new JsonObject().put("task_id", id)).getString("content")).contains("running agent command");
        assertThat(request(Addresses.TASK_LOGS, new JsonObject().put("task_id", id).put("stream", "agent")).getString("content"))
                .as("the agent log travels home with the final event").contains("agent-on-beta-says-hello");
        List<String> states = alphaNode.events().log().readAfter(0, 10_000).stream()
                .filter(e -> id.equals(e.taskId()) && e.type().equals("task.state")).map(e -> e.data().getString("state")).toList();
        assertThat(states).containsExactly("queued", "starting", "running", "merging", "completed");

        assertThat(awaitTerminal(home.getString("task_id")).getString("status")).isEqualTo("completed");
        assertThat(GitRepos.git(repo, "ls-tree", "--name-only", "main")).contains("a.txt", "b.txt").doesNotContain("x.txt");
        assertThat(request(Addresses.SLOT_LIST, new JsonObject()).getJsonArray("active")).isEmpty();
        for (Object o : request(Addresses.CLUSTER_NODES, new JsonObject()).getJsonArray("nodes")) {
            assertThat(((JsonObject) o).getInteger("busy")).as(o.toString()).isZero();
        }
        awaitShadowsCleanedUp(betaState);
    }

    /** Beta keeps no work tree, inputs or task ref of a task whose result reached home. */
    private static void awaitShadowsCleanedUp(Path betaState) throws Exception {
        Path cached = RemoteExecutionVerticle.cacheRoot(betaState).resolve("alpha").resolve("project");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            List<Path> left;
            try (var dirs = Files.list(betaState.resolve("tasks"))) {
                left = dirs.flatMap(d -> java.util.stream.Stream.of(d.resolve("workspace"), d.resolve("io"))).filter(Files::exists).toList();
            }
            String refs = GitRepos.git(cached, "for-each-ref", "refs/tasks/");
            if (left.isEmpty() && refs.isBlank()) break;
            if (System.nanoTime() > deadline) throw new AssertionError("beta still holds " + left + " and refs " + refs);
            Thread.sleep(200);
        }
        try (var dirs = Files.list(betaState.resolve("tasks"))) {
            assertThat(dirs.filter(d -> Files.isRegularFile(d.resolve("task.json"))).count()).as("records stay").isEqualTo(2);
        }
    }

    private JsonObject submit(String description, String agent) throws Exception {
        return request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", "project").put("description", description)
                .put("caller", "test").put("options", new JsonObject().put("agent_command", agent)));
    }

    private JsonObject request(String address, JsonObject body) throws Exception {
        return alpha.vertx().eventBus().<JsonObject>request(address, body).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).body();
    }

    private JsonObject awaitTerminal(String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
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

    private static JsonObject clusterJson(String name, int membership, int bus, JsonArray members, Path certs) {
        return new JsonObject().put("cluster_name", "lab").put("node_name", name).put("bind_host", "127.0.0.1")
                .put("membership_port", membership).put("event_bus_port", bus).put("members", members).put("certs_dir", certs.toString());
    }
}
