package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskIds;
import dev.microvm.orchestrator.task.OutcomePolicy;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.concurrent.Callable;

/**
 * On the home host: the events another host sends for a task it runs ({@link Addresses#CLUSTER_TASK_EVENT})
 * applied to the task's home record and event log. Its final state brings the agent's commits, saved
 * on {@code refs/tasks/<id>} and merged here like a local task's. The reply tells the executing host
 * whether this host now holds the commits; only then does it drop its own copy.
 */
final class RemoteEvents {

    private static final Logger LOG = LoggerFactory.getLogger(RemoteEvents.class);
    private static final DeliveryOptions MERGE = new DeliveryOptions().setLocalOnly(true).setSendTimeout(10 * 60_000);

    private final Vertx vertx;
    private final RemoteRecords records;
    private final ReturnedWork returned;
    private final TaskStore store;
    private final String defaultMergeStrategy;

    RemoteEvents(Vertx vertx, RemoteRecords records, ReturnedWork returned, TaskStore store, String defaultMergeStrategy) {
        this.vertx = vertx;
        this.records = records;
        this.returned = returned;
        this.store = store;
        this.defaultMergeStrategy = defaultMergeStrategy;
    }

    /** One event from the executing host, applied after the ones before it. */
    Future<JsonObject> receive(JsonObject msg) {
        RemoteTask task = records.get(msg.getString("home_task_id", ""));
        if (task == null) return lateWork(msg);
        return task.inOrder(() -> apply(task, msg));
    }

    private Future<JsonObject> apply(RemoteTask task, JsonObject msg) {
        if (!records.isCurrent(task)) return Future.succeededFuture(new JsonObject().put("ignored", "task already finished here"));
        String type = msg.getString("type");
        JsonObject data = msg.getJsonObject("data", new JsonObject());
        String id = task.id();
        if (!EventTypes.TASK_STATE.equals(type)) {
            // logs, progress, usage: the same event, under the home task's id
            Future<Void> copied = EventTypes.TASK_LOG.equals(type) ? blocking(() -> {
                returned.appendConsole(id, data);
                return null;
            }) : Future.succeededFuture();
            return copied.compose(v -> records.persist(null, new JsonObject().put("type", type).put("task_id", id).put("data", data)))
                    .map(new JsonObject());
        }
        TaskState state = TaskState.fromWire(data.getString("state"));
        if (state == TaskState.QUEUED) return Future.succeededFuture(new JsonObject());
        if (!state.isTerminal()) {
            if (state == TaskState.STARTING) task.started = true;
            return records.moveTo(task, state, r -> r, new JsonObject().put("remote_slot", data.getValue("slot"))).map(new JsonObject());
        }
        task.started = true;
        JsonObject outcome = new JsonObject().put("exit_code", data.getValue("exit_code")).put("result", data.getValue("result"))
                .put("agent_error", "agent_failed".equals(data.getString("reason")) ? data.getString("error") : null);
        byte[] bundle = msg.getBinary("bundle");
        return blocking(() -> {
            returned.saveAgentLog(id, task.node, msg);
            return returned.importCommits(task.record, bundle);
        }).transform(saved -> {
            if (saved.failed()) {
                return records.finish(task, TaskState.FAILED, "result_rejected", "the commits sent back by " + task.node
                        + " were refused: " + saved.cause().getMessage(), outcome).map(new JsonObject().put("commits_kept", false));
            }
            Future<Void> done;
            if (state != TaskState.COMPLETED) {
                String error = data.getString("error", "the task " + state.wireName() + " on " + task.node);
                if (saved.result() > 0) error += "; its commits are saved on refs/tasks/" + id;
                done = records.finish(task, state, data.getString("reason", state.wireName()), error, outcome);
            } else {
                done = mergeHere(task, outcome);
            }
            return done.map(new JsonObject().put("commits_kept", true));
        });
    }

    private Future<Void> mergeHere(RemoteTask task, JsonObject outcome) {
        TaskRecord r = task.record;
        String strategy = r.options().mergeStrategy() != null ? r.options().mergeStrategy() : defaultMergeStrategy;
        Future<Void> merging = r.state() == TaskState.MERGING ? Future.succeededFuture() : records.moveTo(task, TaskState.MERGING, x -> x, null);
        return merging.compose(v -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_MERGE,
                        new JsonObject().put("task_id", r.id()).put("strategy", strategy), MERGE))
                .map(Message::body)
                .compose(merge -> {
                    OutcomePolicy.Outcome o = OutcomePolicy.afterMerge(r.id(), outcome.getInteger("exit_code"), outcome.getString("agent_error"), merge, strategy);
                    return records.finish(task, o.state(), o.reason() == null ? null : o.reason().wireName(), o.error(),
                            outcome.copy().put("merge_result", merge));
                }, e -> records.finish(task, TaskState.FAILED, "merge_failed", e.getMessage(), outcome));
    }

    /**
     * The final event of a task this host no longer follows. Reported node_lost already: the host
     * came back and the agent's commits are saved on refs/tasks/&lt;id&gt;; the task is not reopened
     * and nothing is merged. Still unfinished here: this host restarted and asks for it again
     * ({@link Addresses#CLUSTER_RESEND}) once it follows the task.
     */
    private Future<JsonObject> lateWork(JsonObject msg) {
        String id = msg.getString("home_task_id", "");
        String node = msg.getString("node", "");
        byte[] bundle = msg.getBinary("bundle");
        JsonObject ignored = new JsonObject().put("ignored", "no such remote task here (finished or reported lost)");
        if (bundle == null || !EventTypes.TASK_STATE.equals(msg.getString("type"))) return Future.succeededFuture(ignored);
        JsonObject pending = new JsonObject().put("ignored", "this host does not follow the task yet").put("pending", true);
        return blocking(() -> {
            TaskRecord r = store.load(TaskIds.require(id)).orElse(null);
            if (r != null && !r.state().isTerminal() && node.equals(r.node())) return Map.entry(false, r); // restarted: follow() asks again
            if (r == null || !r.state().isTerminal() || !node.equals(r.node()) || !NodeRequests.NODE_LOST.equals(r.reason())
                    || r.prepared() == null) return null;
            return Map.entry(true, r);
        }).compose(found -> {
            if (found == null) return Future.succeededFuture(ignored);
            if (!found.getKey()) return Future.succeededFuture(pending);
            TaskRecord r = found.getValue();
            return blocking(() -> {
                returned.saveAgentLog(id, node, msg);
                return returned.importCommits(r, bundle);
            }).compose(commits -> {
                if (commits == 0) return Future.succeededFuture(new JsonObject().put("saved", 0).put("commits_kept", true));
                LOG.info("host {} came back with {} commit(s) of task {}; saved on refs/tasks/{}", node, commits, id, id);
                TaskRecord noted = r.withFailure(r.reason(), r.error() + "; the host came back later and its " + commits
                        + " commit(s) were saved on refs/tasks/" + id + " (not merged: merge_task merges them)");
                return records.persist(noted, null).map(new JsonObject().put("saved", commits).put("commits_kept", true));
            });
        });
    }

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }
}
