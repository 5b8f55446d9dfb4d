package dev.microvm.orchestrator.testing;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** An embedded node on a temporary state directory, with blocking helpers for tests. */
public final class NodeFixture implements AutoCloseable {

    public final Node node;

    private NodeFixture(Node node) {
        this.node = node;
    }

    /** A node a test started with options of its own (a placement, ...); closing the fixture closes it. */
    public static NodeFixture of(Node node) {
        return new NodeFixture(node);
    }

    public static NodeFixture start(Path stateDir, OrchestratorConfig config, HypervisorDriver driver) throws Exception {
        return start(stateDir, config, driver, null);
    }

    /** With a real credential (for the opt-in credential_mode file). */
    public static NodeFixture start(Path stateDir, OrchestratorConfig config, HypervisorDriver driver,
                                    dev.microvm.orchestrator.secrets.Credential credential) throws Exception {
        Vertx vertx = Vertx.vertx();
        Node node = Node.start(vertx, new StatePaths(stateDir), new Node.Options(config, driver, "test-node", Clock.systemUTC(),
                UnaryOperator.identity(), () -> java.util.Optional.ofNullable(credential)))
                .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return new NodeFixture(node);
    }

    /** Test configuration: small guests, TCG (nested KVM is not reliable on CI machines). */
    public static OrchestratorConfig config(Path stateDir, String driver, Path guestDir, int slots) {
        return OrchestratorConfig.defaults(stateDir).merge(new JsonObject()
                .put("slots", slots).put("vm_cpus", 1).put("vm_memory_mib", 512).put("driver", driver)
                .put("accelerator", "tcg").put("guest_dir", guestDir.toString()).put("http_port", 0)
                .put("boot_timeout_seconds", 120).put("stop_grace_seconds", 5).put("slot_disk_gib", 1), "test");
    }

    public JsonObject request(String address, JsonObject body) throws Exception {
        return node.vertx().eventBus().<JsonObject>request(address, body).toCompletionStage().toCompletableFuture()
                .get(120, TimeUnit.SECONDS).body();
    }

    public JsonObject submit(String repo, String description, JsonObject options) throws Exception {
        return request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", repo).put("description", description)
                .put("caller", "test").put("options", options));
    }

    public JsonObject awaitTerminal(String taskId, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, new JsonObject().put("task_id", taskId));
            if (List.of("completed", "failed", "cancelled").contains(rec.getString("status"))) return rec;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + taskId + " still " + rec.getString("status") + ": " + rec.encodePrettily());
            Thread.sleep(200);
        }
    }

    public JsonObject awaitStatus(String taskId, String status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonObject rec = request(Addresses.TASK_GET, new JsonObject().put("task_id", taskId));
            if (status.equals(rec.getString("status"))) return rec;
            if (System.nanoTime() > deadline) throw new AssertionError("task " + taskId + " is " + rec.getString("status") + ", not " + status);
            Thread.sleep(100);
        }
    }

    @Override
    public void close() throws Exception {
        node.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
}
