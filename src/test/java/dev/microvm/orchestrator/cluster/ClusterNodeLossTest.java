package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.testing.FreePorts;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.Future;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.ReplyException;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three members in three JVMs on loopback: this test's node (alpha), a real {@code serve
 * --cluster} node (beta) and a member that never answers (gamma). Every host offers its slots;
 * when gamma is killed with SIGKILL, a request waiting on it fails as node_lost within seconds,
 * not after the event bus's send timeout, and the cluster carries on without it.
 */
@Tag("cluster")
class ClusterNodeLossTest {

    @TempDir Path tmp;
    private final List<Process> children = new ArrayList<>();
    private ClusterVertx.Started alpha;
    private Node alphaNode;

    @AfterEach
    void stop() throws Exception {
        for (Process p : children) if (p.isAlive()) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        if (alphaNode != null) alphaNode.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void aKilledMemberFailsItsPendingRequestsAsNodeLostWhileTheOthersCarryOn() throws Exception {
        Path certs = tmp.resolve("certs");
        ClusterCerts.forThisJvm().create(certs, "lab", List.of("alpha", "beta", "gamma"));
        int[] ports = FreePorts.distinct(6);
        JsonArray members = new JsonArray().add("alpha@127.0.0.1:" + ports[0]).add("beta@127.0.0.1:" + ports[2]).add("gamma@127.0.0.1:" + ports[4]);

        // beta: the real daemon, clustered, with two slots
        Path betaState = Files.createDirectories(tmp.resolve("beta"));
        Files.writeString(betaState.resolve("config.json"), new JsonObject().put("slots", 2).put("http_port", 0).encode());
        Files.writeString(betaState.resolve("cluster.json"), clusterJson("beta", ports[2], ports[3], members, certs).encode());
        Process beta = start(JavaProcess.builder(Main.class, "serve", "--state-dir", betaState.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("beta.log").toFile()));
        // gamma: a member that takes requests and never answers them
        Path gammaJson = tmp.resolve("gamma.json");
        Files.writeString(gammaJson, clusterJson("gamma", ports[4], ports[5], members, certs).encode());
        Process gamma = start(JavaProcess.builder(SlowMember.class, gammaJson.toString()).redirectError(tmp.resolve("gamma.log").toFile()));
        assertThat(new BufferedReader(new InputStreamReader(gamma.getInputStream())).readLine()).isEqualTo("ready");

        // alpha: this JVM, a real node on the clustered Vert.x
        alpha = ClusterVertx.start(ClusterConfig.fromJson(clusterJson("alpha", ports[0], ports[1], members, certs), tmp), new VertxOptions());
        StatePaths alphaPaths = new StatePaths(tmp.resolve("alpha"));
        OrchestratorConfig config = OrchestratorConfig.defaults(alphaPaths.root()).merge(new JsonObject().put("slots", 1).put("http_port", 0), "test");
        alphaNode = Node.start(alpha.vertx(), alphaPaths, new Node.Options(config, Drivers.create(config, alphaPaths), "alpha",
                Clock.systemUTC(), UnaryOperator.identity()).withPlacement(ClusterServices.placement(alpha, "alpha"))).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        ClusterNodeVerticle face = new ClusterNodeVerticle("alpha", alpha.membership());
        alpha.vertx().deployVerticle(face).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        awaitMembers(List.of("alpha", "beta", "gamma"), 120);
        awaitBetaOffer();

        // a request to gamma is in flight when gamma dies
        Future<JsonObject> pending = face.requestOn("gamma",
                Addresses.onNode(Addresses.CLUSTER_NODE_INFO, "gamma"), new JsonObject(), 120_000);
        Thread.sleep(500);
        assertThat(pending.isComplete()).isFalse();
        long killed = System.nanoTime();
        gamma.destroyForcibly();
        Throwable failure = pending.toCompletionStage().toCompletableFuture().handle((v, e) -> e).get(30, TimeUnit.SECONDS);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        assertThat(failure).isNotNull();
        Throwable cause = failure instanceof java.util.concurrent.CompletionException ? failure.getCause() : failure;
        assertThat(cause).isInstanceOf(ReplyException.class).hasMessageContaining("host gamma is not (or no longer) a member");
        assertThat(TaskFailure.of(cause, FailureReason.UNKNOWN).reason()).isEqualTo(FailureReason.NODE_LOST);
        assertThat(millis).as("node_lost after %d ms", millis).isLessThan(10_000);
        System.err.println("gamma reported node_lost " + millis + " ms after SIGKILL");

        // the others carry on: alpha and beta still offer their slots, and a new request to gamma fails at once
        awaitMembers(List.of("alpha", "beta"), 30);
        JsonObject nodes = alphaNodes();
        assertThat(nodes.getJsonArray("nodes").stream().map(o -> ((JsonObject) o).getString("node")).toList()).containsExactlyInAnyOrder("alpha", "beta");
        assertThat(nodes.getString("next_placement")).isEqualTo("alpha");
        Throwable again = face.requestOn("gamma", Addresses.onNode(Addresses.CLUSTER_NODE_INFO, "gamma"),
                new JsonObject(), 120_000).toCompletionStage().toCompletableFuture().handle((v, e) -> e).get(2, TimeUnit.SECONDS);
        assertThat(TaskFailure.of(again, FailureReason.UNKNOWN).reason()).isEqualTo(FailureReason.NODE_LOST);
        assertThat(beta.isAlive()).isTrue();
    }

    private void awaitBetaOffer() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            JsonObject nodes = alphaNodes();
            for (Object o : nodes.getJsonArray("nodes")) {
                JsonObject n = (JsonObject) o;
                if ("beta".equals(n.getString("node")) && "up".equals(n.getString("state"))) {
                    assertThat(n.getInteger("slots")).isEqualTo(2);
                    assertThat(n.getInteger("busy")).isZero();
                    return;
                }
            }
            if (System.nanoTime() > deadline) throw new AssertionError("beta offers no slots: " + nodes.encodePrettily());
            Thread.sleep(500);
        }
    }

    private JsonObject alphaNodes() throws Exception {
        return alpha.vertx().eventBus().<JsonObject>request(Addresses.CLUSTER_NODES, new JsonObject())
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS).body();
    }

    private void awaitMembers(List<String> expected, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            List<String> now = alpha.membership().members();
            if (now.size() == expected.size() && now.containsAll(expected)) return;
            Thread.sleep(200);
        }
        throw new AssertionError("members " + alpha.membership().members() + ", expected " + expected);
    }

    private Process start(ProcessBuilder pb) throws Exception {
        Process p = pb.start();
        children.add(p);
        return p;
    }

    private static JsonObject clusterJson(String name, int membership, int bus, JsonArray members, Path certs) {
        return new JsonObject().put("cluster_name", "lab").put("node_name", name).put("bind_host", "127.0.0.1")
                .put("membership_port", membership).put("event_bus_port", bus).put("members", members).put("certs_dir", certs.toString());
    }
}
