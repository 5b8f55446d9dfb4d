package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Instant;

/**
 * A task's running VM, on its {@link TaskVerticle}'s context: waits for it a slice at a time,
 * publishes its console and progress, notices a cancel left by another process, stops it at the
 * task's timeout; once it has ended, hands over to {@link TaskEnd}.
 */
final class TaskRun {
    private static final long AWAIT_SLICE_MS = 1000;

    private final TaskVerticle task;
    private long logOffset;
    private Instant runningSince;
    private boolean consoleBehind;

    TaskRun(TaskVerticle task) {
        this.task = task;
    }

    /** The VM runs (since {@code since}): watch it until it ends. */
    void watch(Instant since) {
        runningSince = since;
        if (task.cancelRequested()) stopVm();
        awaitVm();
    }

    private void awaitVm() {
        if (task.finishing) return;
        // console output behind: read the next slice at once instead of waiting for the VM a second
        JsonObject req = task.base().put("millis", consoleBehind ? 1 : AWAIT_SLICE_MS).put("log_offset", logOffset);
        task.ask(Addresses.WORKER_VM_AWAIT, req).onComplete(ar -> {
            if (ar.failed()) {
                task.failFrom(ar.cause(), FailureReason.VM_FAILED);
                return;
            }
            JsonObject r = ar.result();
            publishLog(r);
            if (!r.getBoolean("running", false)) {
                if (r.getBoolean("log_more", false) && !task.finishing) {
                    awaitVm(); // the VM has ended; its console is published to the end first
                    return;
                }
                task.end.collectAndMerge();
                return;
            }
            if (r.getBoolean("cancel_requested", false)) task.noteCancel();
            if (timedOut()) {
                timeoutVm();
                return;
            }
            awaitVm();
        });
    }

    private void publishLog(JsonObject r) {
        String id = task.record().id();
        long from = logOffset;
        logOffset = r.getLong("log_offset", logOffset);
        consoleBehind = r.getBoolean("log_more", false);
        JsonArray lines = r.getJsonArray("log_lines");
        if (lines != null && !lines.isEmpty()) {
            // the console byte range lets a viewer join these lines to what it read from the log file
            JsonObject data = new JsonObject().put("stream", "console").put("lines", lines)
                    .put("offset", from).put("next_offset", logOffset);
            JsonArray continues = r.getJsonArray("log_continues");
            if (continues != null && !continues.isEmpty()) data.put("continues", continues);
            task.publish(new JsonObject().put("type", EventTypes.TASK_LOG).put("task_id", id).put("data", data));
        }
        Long skipped = r.getLong("output_skipped");
        if (skipped != null) {
            task.publish(new JsonObject().put("type", EventTypes.TASK_OUTPUT_SKIPPED).put("task_id", id)
                    .put("data", new JsonObject().put("stream", "console").put("bytes", skipped).put("source", "agent")
                            .put("message", skipped + " bytes of agent output were not copied to the console; "
                                    + "get_task_logs with stream agent has them")));
        }
        JsonObject progress = r.getJsonObject("progress");
        if (progress != null) {
            task.publish(new JsonObject().put("type", EventTypes.TASK_PROGRESS).put("task_id", id).put("data", progress));
        }
    }

    private int limitSeconds() {
        Integer own = task.record().options().timeoutSeconds();
        return own != null ? own : task.policy.timeoutSeconds();
    }

    private boolean timedOut() {
        return runningSince != null && task.clock.instant().isAfter(runningSince.plusSeconds(limitSeconds()));
    }

    private void timeoutVm() {
        task.finishing = true;
        task.ask(Addresses.WORKER_VM_STOP, task.base().put("grace_seconds", task.policy.stopGraceSeconds()))
                .onComplete(ar -> drainConsole().onComplete(d -> task.end.collect().onComplete(c -> {
                    JsonObject res = c.succeeded() ? c.result() : new JsonObject();
                    task.fail(FailureReason.TIMEOUT, "the agent ran longer than " + limitSeconds() + " s and its VM was stopped"
                            + (res.getInteger("commits", 0) > 0 ? "; its commits are saved on refs/tasks/" + task.record().id() : ""));
                })));
    }

    /** After a stop: publishes the console lines written since the last look, to the end. */
    private Future<Void> drainConsole() {
        return task.ask(Addresses.WORKER_VM_AWAIT, task.base().put("millis", 1).put("log_offset", logOffset))
                .compose(r -> {
                    publishLog(r);
                    return !r.getBoolean("running", false) && r.getBoolean("log_more", false) ? drainConsole() : Future.<Void>succeededFuture();
                })
                .recover(e -> Future.succeededFuture()); // the console file keeps every line in any case
    }

    void stopVm() {
        task.ask(Addresses.WORKER_VM_STOP, task.base().put("grace_seconds", task.policy.stopGraceSeconds()));
        // the await loop notices the stop and collects
    }
}
