package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * On the home host: the tasks that run on other hosts, and their home records. A record moves
 * through the same states as a local task's, each change persisted with its {@code task.state}
 * event before the next; when the task ends it leaves this book and the task manager forgets it.
 * Touched only on the home side's event loop.
 */
final class RemoteRecords {

    private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true).setSendTimeout(30_000);

    private final Vertx vertx;
    private final String self;
    private final Map<String, RemoteTask> tasks = new HashMap<>();

    RemoteRecords(Vertx vertx, String self) {
        this.vertx = vertx;
        this.self = self;
    }

    RemoteTask get(String homeTaskId) {
        return tasks.get(homeTaskId);
    }

    void add(RemoteTask task) {
        tasks.put(task.id(), task);
    }

    /** False once the task ended here, was re-queued here or was replaced. */
    boolean isCurrent(RemoteTask task) {
        return tasks.get(task.id()) == task;
    }

    List<RemoteTask> on(String node) {
        return tasks.values().stream().filter(t -> t.node.equals(node)).toList();
    }

    int notStartedOn(String node) {
        return (int) tasks.values().stream().filter(t -> t.node.equals(node) && !t.started).count();
    }

    /** Takes the task out of this book: control requests for it stop, and nothing it sends applies any more. */
    void forget(RemoteTask task) {
        if (isCurrent(task)) tasks.remove(task.id());
        if (task.control != null) task.control.unregister();
    }

    /** The task's first home record (queued, naming its host), with its event, before the task is sent there. */
    Future<Void> placed(RemoteTask task, String description) {
        TaskRecord r = task.record;
        JsonObject event = stateEvent(r.id(), new JsonObject().put("state", "queued").put("repo", r.repo()).put("caller", r.caller())
                .put("node", task.node).put("description", description));
        return persist(r, event).onSuccess(v -> add(task));
    }

    /** Ends the task in a terminal state, once; {@code outcome} carries exit_code, result and merge_result when known. */
    Future<Void> finish(RemoteTask task, TaskState state, String reason, String error, JsonObject outcome) {
        if (!isCurrent(task) || task.record.state().isTerminal()) return Future.succeededFuture();
        forget(task);
        return moveTo(task, state, r -> {
            TaskRecord x = r.withExitCode(outcome.getInteger("exit_code")).withResult(outcome.getJsonObject("result"));
            if (outcome.getJsonObject("merge_result") != null) x = x.withMergeResult(outcome.getJsonObject("merge_result"));
            if (reason != null) x = x.withFailure(reason, error);
            return x;
        }, null).onComplete(v -> finishedHere(task.id()));
    }

    /** A task another host never started goes back to this host's queue: the task manager adopts it. */
    Future<Void> requeueHere(RemoteTask task) {
        forget(task);
        TaskRecord back = task.record.withNode(self).withPrepared(null);
        task.record = back;
        return persist(back, null).onComplete(v -> finishedHere(back.id()));
    }

    /**
     * Moves the record to {@code next} and persists it with its event. The other host may skip a
     * state this record never saw (queued → running after a restart there): the missing ones are
     * passed through first. A move the lifecycle does not allow is ignored.
     */
    Future<Void> moveTo(RemoteTask task, TaskState next, UnaryOperator<TaskRecord> change, JsonObject extra) {
        TaskRecord before = task.record;
        if (!before.state().canMoveTo(next)) {
            TaskState between = skipped(before.state(), next);
            if (between == null) return Future.succeededFuture();
            return moveTo(task, between, r -> r, null).compose(v -> moveTo(task, next, change, extra));
        }
        TaskRecord updated = change.apply(before.moveTo(next, Instant.now().toString()));
        task.record = updated;
        JsonObject data = new JsonObject().put("state", next.wireName()).put("previous", before.state().wireName())
                .put("repo", updated.repo()).put("caller", updated.caller()).put("node", task.node);
        if (next.isTerminal()) {
            if (updated.reason() != null) data.put("reason", updated.reason()).put("error", updated.error());
            data.put("exit_code", updated.exitCode());
            if (updated.result() != null) data.put("result", updated.result());
            if (updated.mergeResult() != null) data.put("merge_result", updated.mergeResult());
        }
        if (extra != null) extra.forEach(e -> { if (e.getValue() != null) data.put(e.getKey(), e.getValue()); });
        return persist(updated, stateEvent(updated.id(), data));
    }

    private static TaskState skipped(TaskState from, TaskState to) {
        if (from == TaskState.QUEUED && (to == TaskState.RUNNING || to == TaskState.MERGING)) return TaskState.STARTING;
        if (from == TaskState.STARTING && to == TaskState.MERGING) return TaskState.RUNNING;
        return null;
    }

    /** Writes the record (when given) and appends the event (when given), in one worker request. */
    Future<Void> persist(TaskRecord record, JsonObject event) {
        JsonObject req = new JsonObject();
        if (record != null) req.put("record", record.toJson());
        if (event != null) req.put("event", event);
        return vertx.eventBus().request(Addresses.WORKER_PERSIST, req, LOCAL).mapEmpty();
    }

    static JsonObject stateEvent(String taskId, JsonObject data) {
        return new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", taskId).put("data", data);
    }

    private void finishedHere(String taskId) {
        vertx.eventBus().publish(Addresses.TASK_FINISHED_LOCAL, new JsonObject().put("task_id", taskId), EventSink.LOCAL);
    }
}
