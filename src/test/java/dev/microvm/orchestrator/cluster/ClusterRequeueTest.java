package dev.microvm.orchestrator.cluster;

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

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Alpha (this JVM, the process driver running the real task runner) and delta, a member that takes
 * a shipped task and never starts it. When delta is killed, the task it held comes back to alpha's
 * queue, runs there once alpha's slot is free, and is merged; nothing is reported lost because
 * nothing had started.
 */
@Tag("cluster")
class ClusterRequeueTest {

    @TempDir Path tmp;
    private Process delta;
    private ClusterVertx.Started alpha;
    private Node alphaNode;

    @AfterEach
    void stop() throws Exception {
        if (delta != null && delta.isAlive()) delta.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        if (alphaNode != null) alphaNode.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void aTaskShippedToAHostThatDiesBeforeStartingItRunsAtHomeInstead() throws Exception {
        Path certs = tmp.resolve("certs");
        ClusterCerts.forThisJvm().create(certs, "lab", List.of("alpha", "delta"));
        int[] ports = FreePorts.distinct(4);
        JsonArray members = new JsonArray().add("alpha@127.0.0.1:" + ports[0]).add("delta@127.0.0.1:" + ports[2]);
        Path deltaJson = tmp.resolve("delta.json");
        Files.writeString(deltaJson, clusterJson("delta", ports[2], ports[3], members, certs).encode());
        delta = JavaProcess.builder(TakingMember.class, deltaJson.toString()).redirectError(tmp.resolve("delta.log").toFile()).start();
        BufferedReader deltaOut = new BufferedReader(new InputStreamReader(delta.getInputStream()));
        assertThat(deltaOut.readLine()).isEqualTo("ready");

        alpha = ClusterVertx.start(ClusterConfig.fromJson(clusterJson("alpha", ports[0], ports[1], members, certs), tmp), new VertxOptions());
        Path state = tmp.resolve("alpha");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        alphaNode = Node.start(alpha.vertx(), new StatePaths(state), new Node.Options(config, new ProcessDriver(), "alpha",
                Clock.systemUTC(), UnaryOperator.identity()).withPlacement(ClusterServices.placement(alpha, "alpha"))).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        ClusterServices.deploy(alphaNode, alpha).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        Path repo = GitRepos.create(tmp.resolve("project"));
        alphaNode.repos().allow(repo, "project");
        awaitMembers(List.of("alpha", "delta"));

        JsonObject first = submit("a", "sleep 6 && echo a > a.txt && git add a.txt && git commit -q -m a");
        assertThat(first.getString("node")).isEqualTo("alpha");
        JsonObject second = submit("b", "echo b > b.txt && git add b.txt && git commit -q -m b");
        String id = second.getString("task_id");
        assertThat(second.getString("node")).isEqualTo("delta");
        assertThat(deltaOut.readLine()).isEqualTo("executing " + id);
        assertThat(request(Addresses.TASK_GET, id).getString("status")).isEqualTo("queued");

        delta.destroyForcibly();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!"alpha".equals(request(Addresses.TASK_GET, id).getString("node"))) {
            if (System.nanoTime() > deadline) throw new AssertionError("not re-placed: " + request(Addresses.TASK_GET, id).encodePrettily());
            Thread.sleep(100);
        }
        for (String t : List.of(first.getString("task_id"), id)) {
            JsonObject done = awaitTerminal(t);
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getString("node")).isEqualTo("alpha");
            assertThat(done.getJsonObject("merge_result").getBoolean("merged")).isTrue();
        }
        assertThat(GitRepos.git(repo, "ls-tree", "--name-only", "main")).contains("a.txt", "b.txt");
        assertThat(request(Addresses.SLOT_LIST, null).getJsonArray("active")).isEmpty();
        assertThat(alphaNode.events().log().readAfter(0, 10_000)).noneSatisfy(e ->
                assertThat(e.data().getString("reason")).isEqualTo("node_lost"));
    }

    private JsonObject submit(String description, String agent) throws Exception {
        return alpha.vertx().eventBus().<JsonObject>request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", "project")
                        .put("description", description).put("caller", "test").put("options", new JsonObject().put("agent_command", agent)))
                .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS).body();
    }

    private JsonObject request(String address, String taskId) throws Exception {
        JsonObject body = taskId == null ? new JsonObject() : new JsonObject().put("task_id", taskId);
        return alpha.vertx().eventBus().<JsonObject>request(address, body).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).body();
    }

    private JsonObject awaitTerminal(String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, id);
            if (List.of("completed", "failed", "cancelled").contains(rec.getString("status"))) return rec;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + id + " still " + rec.encodePrettily());
            Thread.sleep(200);
        }
    }

    private void awaitMembers(List<String> expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            JsonObject nodes = request(Addresses.CLUSTER_NODES, null);
            long up = nodes.getJsonArray("nodes").stream().filter(o -> "up".equals(((JsonObject) o).getString("state"))).count();
            if (up == expected.size()) return;
            Thread.sleep(300);
        }
        throw new AssertionError("members " + alpha.membership().members() + ", expected " + expected);
    }

    private static JsonObject clusterJson(String name, int membership, int bus, JsonArray members, Path certs) {
        return new JsonObject().put("cluster_name", "lab").put("node_name", name).put("bind_host", "127.0.0.1")
                .put("membership_port", membership).put("event_bus_port", bus).put("members", members).put("certs_dir", certs.toString());
    }
}
