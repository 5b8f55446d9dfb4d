package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** A long operation on the worker pool never holds up another task's bookkeeping, and a task's persists stay in order. */
class WorkerPoolIsolationTest {

    /** Holds the first VM's boot (awaitReady) until released, as a slow hypervisor would. */
    static final class HeldBootDriver extends ProcessDriver {
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        private final AtomicBoolean first = new AtomicBoolean(true);

        @Override
        public void awaitReady(VmHandle handle, Duration timeout) throws VmException, InterruptedException {
            if (first.getAndSet(false)) {
                held.countDown();
                release.await(); // no timeout on purpose: only the test lets it go
            }
            super.awaitReady(handle, timeout);
        }
    }

    @TempDir Path tmp;
    private NodeFixture f;
    private HeldBootDriver driver;

    @BeforeEach
    void start() throws Exception {
        GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        driver = new HeldBootDriver();
        f = NodeFixture.start(state, NodeFixture.config(state, "process", tmp.resolve("no-guest"), 2), driver);
        f.node.repos().allow(tmp.resolve("project"), "project");
    }

    @AfterEach
    void stop() throws Exception {
        driver.release.countDown();
        f.close();
    }

    private String submit() throws Exception {
        return f.submit("project", "task", new JsonObject().put("agent_command", "true")).getString("task_id");
    }

    /** A finished task nobody adopts: records written here are never picked up by recovery. */
    private static TaskRecord finished(String id) {
        return TaskRecord.queued(id, "project", "/nowhere", "bookkeeping", "test", "test-node", TaskOptions.defaults(), null,
                "2026-01-01T00:00:00Z").moveTo(TaskState.CANCELLED, "2026-01-01T00:00:01Z");
    }

    private JsonObject persist(JsonObject body) throws Exception {
        return f.node.vertx().eventBus().<JsonObject>request(Addresses.WORKER_PERSIST, body)
                .toCompletionStage().toCompletableFuture().get(1, TimeUnit.SECONDS).body();
    }

    @Test
    void anOperationHeldByALatchDoesNotDelayAnotherTasksPersistOrStateChange() throws Exception {
        String held = submit();
        assertThat(driver.held.await(60, TimeUnit.SECONDS)).as("the first boot is held").isTrue();

        // every request to the pool, one after another, answers within a second while the boot is held
        TaskRecord other = finished("tother");
        for (int i = 0; i < 32; i++) {
            other = other.withPid((long) i);
            JsonObject event = new JsonObject().put("type", "task.log").put("task_id", other.id())
                    .put("data", new JsonObject().put("stream", "console").put("lines", new JsonArray().add("line " + i)));
            assertThat(persist(new JsonObject().put("record", other.toJson()).put("event", event)).getLong("seq")).isPositive();
        }

        // a whole other task goes through every state while the first one is still booting
        String next = submit();
        JsonObject done = f.awaitTerminal(next, Duration.ofSeconds(60));
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(f.request(Addresses.TASK_GET, new JsonObject().put("task_id", held)).getString("status")).isEqualTo("starting");

        driver.release.countDown();
        assertThat(f.awaitTerminal(held, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
    }

    @Test
    void aTasksRecordsAndEventsArePersistedInTheOrderTheyWereSent() throws Exception {
        TaskRecord r = finished("tordered");
        long before = f.node.events().log().lastSequence();
        List<Future<?>> sent = new ArrayList<>();
        int count = 120;
        for (int i = 0; i < count; i++) {
            JsonObject event = new JsonObject().put("type", "task.log").put("task_id", r.id())
                    .put("data", new JsonObject().put("stream", "console").put("lines", new JsonArray().add(Integer.toString(i))));
            JsonObject body = new JsonObject().put("event", event);
            if (i % 3 == 0) { // every third one changes the record too; the others are log lines of the same task
                r = r.withPid((long) i);
                body.put("record", r.toJson());
            }
            sent.add(f.node.vertx().eventBus().request(Addresses.WORKER_PERSIST, body));
        }
        Future.all(sent).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);

        String id = r.id();
        List<String> order = f.node.events().log().readAfter(before, 1000).stream()
                .filter(e -> id.equals(e.taskId())).map(TaskEvent::data).map(d -> d.getJsonArray("lines").getString(0)).toList();
        assertThat(order).containsExactlyElementsOf(java.util.stream.IntStream.range(0, count).mapToObj(Integer::toString).toList());
        assertThat(f.node.store().load(id).orElseThrow().revision()).isEqualTo(r.revision());
    }

    @Test
    void aStaleRecordIsRefusedAndReportedToItsSender() throws Exception {
        TaskRecord r = finished("tstale");
        TaskRecord newer = r.withPid(2L);
        persist(new JsonObject().put("record", newer.toJson()));
        Throwable refused = f.node.vertx().eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("record", r.toJson()))
                .toCompletionStage().toCompletableFuture().handle((ok, e) -> e).get(5, TimeUnit.SECONDS);
        assertThat(refused).isNotNull();
        assertThat(dev.microvm.orchestrator.task.TaskFailure.of(refused, dev.microvm.orchestrator.task.FailureReason.UNKNOWN).reason())
                .isEqualTo(dev.microvm.orchestrator.task.FailureReason.STALE_RECORD);
        assertThat(f.node.store().load(r.id()).orElseThrow().pid()).isEqualTo(2L);
    }
}
