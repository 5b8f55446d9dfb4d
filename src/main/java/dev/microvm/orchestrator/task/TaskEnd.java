package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.Optional;

/**
 * A task's end once its VM stopped, on its {@link TaskVerticle}'s context: MERGING, the slot freed,
 * the agent's output collected and its commits merged, the final state from {@link OutcomePolicy}.
 */
final class TaskEnd {
    private final TaskVerticle task;
    /** Why the agent failed, in words (from the collected guest output), or null. */
    private String agentError;

    TaskEnd(TaskVerticle task) {
        this.task = task;
    }

    /** Reads what the guest left (exit code, result, bundle) and records it. */
    Future<JsonObject> collect() {
        return task.ask(Addresses.WORKER_COLLECT).compose(res -> {
            agentError = res.getString("agent_error");
            TaskRecord next = task.record().withExitCode(res.getInteger("exit_code")).withResult(res.getJsonObject("result"));
            JsonObject setup = res.getJsonObject("setup");
            if (setup == null) return task.persist(next, null).map(res);
            // setup is a phase of its own: its outcome and duration in the record (prepared.setup) and its own event
            JsonObject prepared = next.prepared() == null ? new JsonObject() : next.prepared().copy();
            JsonObject env = prepared.getJsonObject("environment", new JsonObject());
            JsonObject data = setup.copy().put("environment", new JsonObject().put("source", env.getString("source"))
                    .put("sha256", env.getString("sha256")).put("commit", env.getString("commit")));
            return task.persist(next.withPrepared(prepared.put("setup", setup)),
                    new JsonObject().put("type", EventTypes.TASK_SETUP).put("task_id", next.id()).put("data", data)).map(res);
        });
    }

    void collectAndMerge() {
        TaskRecord record = task.record();
        if (record.state().isTerminal()) return;
        task.finishing = true;
        Future<Void> toMerging = record.state() == TaskState.MERGING ? Future.succeededFuture()
                : task.transition(TaskState.MERGING, r -> r, null);
        // the VM has stopped: its slot (storage, memory) is free for the next task while we merge
        toMerging.compose(v -> task.releaseHeldSlot()).compose(v -> collect()).onComplete(ar -> {
            if (ar.failed()) {
                task.failFrom(ar.cause(), FailureReason.COLLECT_FAILED);
                return;
            }
            JsonObject res = ar.result();
            Optional<OutcomePolicy.Outcome> early = OutcomePolicy.afterCollect(task.record().id(), task.cancelRequested(),
                    res.getInteger("commits", 0), res.getString("reason"), res.getString("error"));
            if (early.isPresent()) {
                end(early.get(), null);
                return;
            }
            merge();
        });
    }

    private void merge() {
        TaskRecord record = task.record();
        String strategy = record.options().mergeStrategy() != null ? record.options().mergeStrategy() : task.policy.defaultMergeStrategy();
        task.ask(Addresses.WORKER_MERGE, task.base().put("strategy", strategy)).onComplete(m -> {
            if (m.failed()) {
                task.failFrom(m.cause(), FailureReason.MERGE_FAILED);
                return;
            }
            JsonObject merge = m.result();
            end(OutcomePolicy.afterMerge(record.id(), task.record().exitCode(), agentError, merge, strategy), merge);
        });
    }

    private void end(OutcomePolicy.Outcome outcome, JsonObject merge) {
        if (outcome.state() == TaskState.FAILED && merge == null) {
            task.fail(outcome.reason(), outcome.error()); // nothing merged: the failure path (the VM has stopped, the slot is free)
            return;
        }
        task.transition(outcome.state(), r -> {
            TaskRecord x = merge == null ? r : r.withMergeResult(merge);
            return outcome.reason() == null ? x : x.withFailure(outcome.reason(), outcome.error());
        }, merge == null ? null : new JsonObject().put("merge_result", merge)).onSuccess(x -> task.finish());
    }
}
