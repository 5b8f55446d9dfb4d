package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The pool on its own, with operations that hold or fail on demand. */
class WorkerPoolVerticleTest {

    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch mergeHeld = new CountDownLatch(1);
    private final List<String> persisted = Collections.synchronizedList(new ArrayList<>());
    private Vertx vertx;

    /** Persists record the event type; a type "fail" fails, "slow" takes a while. */
    private final RecordOperations records = new RecordOperations() {
        @Override
        public OptionalLong persist(TaskRecord record, Event event, Long acceptBefore) {
            if ("fail".equals(event.type())) throw new WorkerFailure(FailureReason.IO_ERROR, "injected");
            if ("slow".equals(event.type())) sleep(1500);
            persisted.add(event.taskId() + ":" + event.type());
            return OptionalLong.of(persisted.size());
        }
        @Override public boolean own(String taskId) { return true; }
        @Override public void disown(String taskId) { }
    };

    private final ResultOperations results = new ResultOperations() {
        @Override public JsonObject collect(String taskId) { return new JsonObject(); }
        @Override
        public JsonObject merge(String taskId, String strategy) {
            mergeHeld.countDown();
            await(release);
            return new JsonObject().put("merged", true);
        }
        @Override public JsonObject diff(String taskId, long offset, int limit) { return new JsonObject(); }
        @Override public JsonObject cleanup(String taskId, boolean deleteRef) { return new JsonObject(); }
    };

    private final VmOperations vms = new VmOperations() {
        @Override public long start(String taskId) { return 42; }
        @Override public JsonObject await(String taskId, long millis, long logOffset) { return new JsonObject().put("running", true); }
        @Override public HypervisorDriver.VmExit stop(String taskId, Duration grace) { return new HypervisorDriver.VmExit(0, false, "stopped"); }
        @Override public Recovery recover(String taskId) { return new Recovery("running", "", null); }
        @Override public void forget(String taskId) { }
    };

    private final WorkspaceOperations workspaces = new WorkspaceOperations() {
        @Override public JsonObject prepare(String taskId, Optional<ProxyRoute> proxy, int egressPort) { return new JsonObject(); }
        @Override public JsonObject checkEnvironment(TaskRecord queued) { return new JsonObject(); }
    };

    @BeforeEach
    void deploy() throws Exception {
        vertx = Vertx.vertx();
        var routes = WorkerRoutes.of(records, workspaces, vms, results, 5);
        vertx.deployVerticle(new WorkerPoolVerticle(routes, new WorkerPoolVerticle.PoolSizes(2, 1, 2)))
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void close() throws Exception {
        release.countDown();
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private Future<JsonObject> ask(String address, JsonObject body) {
        return vertx.eventBus().<JsonObject>request(address, body).map(m -> m.body());
    }

    private static JsonObject event(String taskId, String type) {
        return new JsonObject().put("event", new JsonObject().put("type", type).put("task_id", taskId).put("data", new JsonObject()));
    }

    @Test
    void aMergeHoldingEveryGitThreadDelaysNeitherVmNorRecordWork() throws Exception {
        Future<JsonObject> merge = ask(Addresses.WORKER_MERGE, new JsonObject().put("task_id", "theld").put("strategy", "auto"));
        assertThat(mergeHeld.await(10, TimeUnit.SECONDS)).isTrue();

        assertThat(ask(Addresses.WORKER_VM_START, new JsonObject().put("task_id", "tother"))
                .toCompletionStage().toCompletableFuture().get(1, TimeUnit.SECONDS).getLong("pid")).isEqualTo(42);
        assertThat(ask(Addresses.WORKER_PERSIST, event("tother", "task.state"))
                .toCompletionStage().toCompletableFuture().get(1, TimeUnit.SECONDS).getLong("seq")).isEqualTo(1);
        assertThat(merge.isComplete()).isFalse();

        release.countDown();
        assertThat(merge.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS).getBoolean("merged")).isTrue();
    }

    @Test
    void aFailedPersistIsReportedAndTheTasksNextPersistsStillRunInOrder() throws Exception {
        Future<JsonObject> slow = ask(Addresses.WORKER_PERSIST, event("tone", "slow"));
        Future<JsonObject> failed = ask(Addresses.WORKER_PERSIST, event("tone", "fail"));
        Future<JsonObject> after = ask(Addresses.WORKER_PERSIST, event("tone", "after"));
        // another task's persist does not wait for the first task's slow one
        JsonObject other = ask(Addresses.WORKER_PERSIST, event("ttwo", "quick")).toCompletionStage().toCompletableFuture().get(1, TimeUnit.SECONDS);
        assertThat(other.getLong("seq")).isEqualTo(1);

        Future.join(slow, failed, after).toCompletionStage().toCompletableFuture().handle((x, e) -> null).get(5, TimeUnit.SECONDS);
        assertThat(failed.cause()).hasMessage("injected");
        assertThat(dev.microvm.orchestrator.task.TaskFailure.of(failed.cause(), dev.microvm.orchestrator.task.FailureReason.UNKNOWN).reason())
                .isEqualTo(dev.microvm.orchestrator.task.FailureReason.IO_ERROR);
        assertThat(after.succeeded()).isTrue();
        assertThat(persisted).containsExactly("ttwo:quick", "tone:slow", "tone:after");
    }

    @Test
    void persistsAlreadyTakenFinishBeforeThePoolStops() throws Exception {
        ask(Addresses.WORKER_PERSIST, event("tone", "slow"));
        ask(Addresses.WORKER_PERSIST, event("tone", "after"));
        Thread.sleep(200); // both taken: the first runs, the second waits behind it
        vertx.undeploy(vertx.deploymentIDs().iterator().next()).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(persisted).containsExactly("tone:slow", "tone:after");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
