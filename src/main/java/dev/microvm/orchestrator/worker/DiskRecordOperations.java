package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.task.StaleRecordException;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/** {@link RecordOperations} on the state directory: the task store, the event log, the owner locks. */
public final class DiskRecordOperations implements RecordOperations {

    private final TaskStore store;
    private final EventSink events;
    private final TaskOwnership ownership;
    private final UnaryOperator<String> redactor;
    private final Consumer<String> forget;

    /** @param forget called with a task id when it is disowned, to drop what other operations cache for it */
    public DiskRecordOperations(TaskStore store, EventSink events, TaskOwnership ownership, UnaryOperator<String> redactor,
                                Consumer<String> forget) {
        this.store = store;
        this.events = events;
        this.ownership = ownership;
        this.redactor = redactor;
        this.forget = forget;
    }

    @Override
    public OptionalLong persist(TaskRecord record, Event event, Long acceptBefore) {
        if (acceptBefore != null && System.currentTimeMillis() > acceptBefore) {
            // the caller has given up (or will before this reply reaches it): no task may appear
            throw new WorkerFailure(FailureReason.REQUEST_EXPIRED, "the request timed out before the task was recorded; no task was created");
        }
        if (record != null) {
            try {
                store.save(record);
            } catch (StaleRecordException e) {
                throw new WorkerFailure(FailureReason.STALE_RECORD, e.getMessage(), e);
            }
        }
        if (event == null) return OptionalLong.empty();
        JsonObject data = event.data() == null ? new JsonObject() : event.data();
        if (data.containsKey("lines")) {
            JsonArray scrubbed = new JsonArray();
            data.getJsonArray("lines").forEach(l -> scrubbed.add(redactor.apply(String.valueOf(l))));
            data = data.copy().put("lines", scrubbed);
        }
        return OptionalLong.of(events.appendAndPublish(event.type(), event.taskId(), data).seq());
    }

    @Override
    public boolean own(String taskId) {
        return ownership.own(taskId);
    }

    @Override
    public void disown(String taskId) {
        ownership.disown(taskId);
        forget.accept(taskId);
    }
}
