package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Clock;
import java.time.Instant;
import java.util.function.Function;

/**
 * One deployed per task: owns the task's state machine (see {@link TaskState}) and its record.
 * All blocking work is asked of the worker pool over the event bus; every transition is persisted
 * by the worker before its event is published. Undeploys itself once the task is terminal and its
 * slot is released.
 */
public final class TaskVerticle extends VerticleBase {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TaskVerticle.class);

    private static final long AWAIT_SLICE_MS = 1000;
    private static final DeliveryOptions LONG = new DeliveryOptions().setSendTimeout(30 * 60_000L);

    private final Clock clock;
    private final TaskPolicy policy;
    private final boolean recovering;
    private TaskRecord record;
    private MessageConsumer<JsonObject> control;
    private boolean cancelRequested;
    private long logOffset;
    private Instant runningSince;
    private boolean finishing;
    /** Why the agent failed, in words (from the collected guest output), or null. */
    private String agentError;
    private boolean slotReleased;
    private boolean consoleBehind;

    /** Policy values the node decides (timeouts, defaults). */
    public record TaskPolicy(int timeoutSeconds, int stopGraceSeconds, String defaultMergeStrategy, boolean credentialInFile) {}

    public TaskVerticle(TaskRecord record, boolean recovering, TaskPolicy policy, Clock clock) {
        this.record = record;
        this.recovering = recovering;
        this.policy = policy;
        this.clock = clock;
    }

    @Override
    public Future<?> start() {
        control = vertx.eventBus().localConsumer(Addresses.TASK_CONTROL_PREFIX + record.id(), this::onControl);
        return control.completion().onSuccess(v -> context.runOnContext(x -> begin()));
    }

    private void begin() {
        cancelRequested = record.cancelRequested();
        if (!recovering) {
            acquireSlot();
            return;
        }
        switch (record.state()) {
            case QUEUED -> acquireSlot();
            case MERGING -> {
                slotReleased = true; // released when the VM stopped: merging needs no slot
                collectAndMerge();
            }
            case STARTING, RUNNING -> reclaimSlot().onComplete(ar -> {
                if (ar.failed()) {
                    fail("slot_unavailable", "could not re-take slot " + record.slot() + ": " + ar.cause().getMessage());
                } else {
                    recoverVm();
                }
            });
            default -> finish();
        }
    }

    // ---------------------------------------------------------------- control

    private void onControl(Message<JsonObject> msg) {
        String op = msg.body().getString("op", "");
        if (!"cancel".equals(op)) {
            msg.fail(400, "unknown task control op '" + op + "'");
            return;
        }
        if (record.state().isTerminal()) {
            msg.reply(record.toJson());
            return;
        }
        cancelRequested = true;
        if (record.state() == TaskState.QUEUED) {
            vertx.eventBus().request(Addresses.SLOT_DEQUEUE, new JsonObject().put("task_id", record.id()))
                    .onComplete(ar -> transition(TaskState.CANCELLED, r -> r.withCancelRequested().withFailure("cancelled", "cancelled before it started"), null)
                            .onComplete(x -> { msg.reply(record.toJson()); finish(); }));
            return;
        }
        persist(record.withCancelRequested(), null).onComplete(ar -> msg.reply(record.toJson()));
        if (record.state() == TaskState.RUNNING) stopVm();
        // STARTING: noticed when the VM is up; MERGING: finishes as cancelled.
    }

    // ---------------------------------------------------------------- steps

    private void acquireSlot() {
        vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE,
                new JsonObject().put("task_id", record.id()).put("repo_key", record.repoPath()), new DeliveryOptions().setSendTimeout(Long.MAX_VALUE / 4))
                .onComplete(ar -> {
                    if (ar.failed()) {
                        // a withdrawn request (cancel while queued) is finished by the cancel itself
                        if (!record.state().isTerminal() && !cancelRequested) fail("slot_unavailable", ar.cause().getMessage());
                        return;
                    }
                    int slot = ar.result().body().getInteger("slot");
                    if (record.state().isTerminal()) { // cancelled while the reply was in flight
                        releaseSlot(slot);
                        return;
                    }
                    transition(TaskState.STARTING, r -> r.withSlot(slot), new JsonObject().put("slot", slot))
                            .onSuccess(v -> boot());
                });
    }

    /** On the slot the record names: prepare the workspace and start the VM (STARTING → RUNNING). */
    private void boot() {
        registerWithProxy()
                .compose(proxy -> openEgress(0).compose(egress -> ask(Addresses.WORKER_PREPARE,
                        base().put("proxy", proxy).put("egress", egress))))
                .compose(prep -> persist(record.withPrepared(prep.getJsonObject("prepared")), null))
                .compose(v -> ask(Addresses.WORKER_VM_START))
                .onComplete(started -> {
                    if (started.failed()) {
                        failFrom(started.cause(), "start_failed");
                        return;
                    }
                    Long pid = started.result().getLong("pid");
                    transition(TaskState.RUNNING, r -> r.withPid(pid), new JsonObject().put("pid", pid))
                            .onSuccess(v -> {
                                runningSince = clock.instant();
                                if (cancelRequested) stopVm();
                                awaitVm();
                            });
                });
    }

    /**
     * A per-task placeholder token from the credential proxy, so the agent never holds the real
     * key. Without a proxy (no credentials configured) only a custom agent command can run.
     */
    private Future<JsonObject> registerWithProxy() {
        if (policy.credentialInFile()) return Future.succeededFuture(null); // the worker writes the credential file
        return vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, base(), new DeliveryOptions().setSendTimeout(10_000))
                .map(Message::body)
                .recover(e -> {
                    if (record.options().agentCommand() != null) return Future.succeededFuture(null);
                    return Future.failedFuture("[no_credentials] the agent (Claude Code) needs API credentials and none are configured: "
                            + "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN for the orchestrator, or run: microvm-orchestrator setup-token");
                });
    }

    /**
     * Under network allowlist, this task's listener on the egress proxy ({@code port} 0: a new one;
     * otherwise the port a recovered VM booted with). No egress proxy means the task fails: it never
     * runs with a weaker network than it asked for.
     */
    private Future<JsonObject> openEgress(int port) {
        if (!"allowlist".equals(record.options().network())) return Future.succeededFuture(null);
        JsonObject req = base().put("domains", new JsonArray(record.options().allowedDomains())).put("port", port);
        return vertx.eventBus().<JsonObject>request(Addresses.EGRESS_OPEN, req, new DeliveryOptions().setSendTimeout(10_000))
                .map(Message::body)
                .recover(e -> Future.failedFuture("[network_unavailable] network allowlist needs the egress proxy: " + e.getMessage()));
    }

    private Future<Void> reclaimSlot() {
        if (record.slot() == null) return Future.failedFuture("the task record names no slot");
        return vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE, new JsonObject().put("task_id", record.id())
                        .put("repo_key", record.repoPath()).put("slot", record.slot()), new DeliveryOptions().setSendTimeout(60_000))
                .mapEmpty();
    }

    private void recoverVm() {
        ask(Addresses.WORKER_VM_RECOVER).onComplete(ar -> {
            if (ar.failed()) {
                failFrom(ar.cause(), "recover_failed");
                return;
            }
            String status = ar.result().getString("status");
            switch (status) {
                case "running" -> {
                    restoreApiRoute(ar.result().getJsonObject("proxy"));
                    int egressPort = record.prepared() == null ? 0 : record.prepared().getInteger("egress_port", 0);
                    if (egressPort > 0) {
                        openEgress(egressPort).onFailure(e -> LOG.warn("task {}: the agent's egress proxy (port {}) could not be restored: {}",
                                record.id(), egressPort, e.getMessage()));
                    }
                    Future<Void> ready = record.state() == TaskState.STARTING
                            ? transition(TaskState.RUNNING, r -> r, new JsonObject().put("recovered", true))
                            : Future.succeededFuture();
                    ready.onSuccess(v -> {
                        runningSince = parseOr(record.startedAt());
                        if (cancelRequested) stopVm();
                        awaitVm();
                    });
                }
                case "stopped" -> {
                    Future<Void> ready = record.state() == TaskState.STARTING
                            ? transition(TaskState.RUNNING, r -> r, new JsonObject().put("recovered", true))
                            : Future.succeededFuture();
                    ready.onSuccess(v -> collectAndMerge());
                }
                case "never_started" -> {
                    if (record.state() != TaskState.STARTING) {
                        fail("vm_lost", "the VM handle of this running task is missing after an orchestrator restart");
                    } else if (cancelRequested) {
                        transition(TaskState.CANCELLED, r -> r.withFailure("cancelled", "cancelled before it started"), null)
                                .onComplete(x -> finish());
                    } else {
                        // its process ended before the VM was spawned: nothing ran, so it starts now instead of failing
                        LOG.info("task {}: its VM was never started; starting it on slot {}", record.id(), record.slot());
                        boot();
                    }
                }
                default -> fail("vm_lost", "the VM of this task could not be found after an orchestrator restart: "
                        + ar.result().getString("detail", status));
            }
        });
    }

    /**
     * A re-attached VM keeps the proxy address and placeholder it booted with; this process's proxy
     * takes that placeholder and listens on that port too (free again: its previous owner died).
     */
    private void restoreApiRoute(JsonObject proxy) {
        if (proxy == null) return;
        vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, base().put("token", proxy.getString("token"))
                        .put("port", proxy.getInteger("port")), new DeliveryOptions().setSendTimeout(10_000))
                .onSuccess(m -> {
                    if (!m.body().getBoolean("route_restored", false)) {
                        LOG.warn("task {}: the agent's API route (port {}) could not be restored: {}", record.id(), proxy.getInteger("port"),
                                m.body().getString("detail", "unknown"));
                    }
                })
                .onFailure(e -> LOG.warn("task {}: no API proxy to take over the agent's route: {}", record.id(), e.getMessage()));
    }

    private void awaitVm() {
        if (finishing) return;
        // console output behind: read the next slice at once instead of waiting for the VM a second
        JsonObject req = base().put("millis", consoleBehind ? 1 : AWAIT_SLICE_MS).put("log_offset", logOffset);
        vertx.eventBus().<JsonObject>request(Addresses.WORKER_VM_AWAIT, req, LONG).onComplete(ar -> {
            if (ar.failed()) {
                failFrom(ar.cause(), "vm_failed");
                return;
            }
            JsonObject r = ar.result().body();
            publishLog(r);
            if (!r.getBoolean("running", false)) {
                if (r.getBoolean("log_more", false) && !finishing) {
                    awaitVm(); // the VM has ended; its console is published to the end first
                    return;
                }
                collectAndMerge();
                return;
            }
            if (r.getBoolean("cancel_requested", false) && !cancelRequested) {
                cancelRequested = true;
                persist(record.withCancelRequested(), null);
                stopVm();
            }
            if (timedOut()) {
                timeoutVm();
                return;
            }
            awaitVm();
        });
    }

    private void publishLog(JsonObject r) {
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
            vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("event", new JsonObject()
                    .put("type", EventTypes.TASK_LOG).put("task_id", record.id()).put("data", data)));
        }
        Long skipped = r.getLong("output_skipped");
        if (skipped != null) {
            vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("event", new JsonObject()
                    .put("type", EventTypes.TASK_OUTPUT_SKIPPED).put("task_id", record.id())
                    .put("data", new JsonObject().put("stream", "console").put("bytes", skipped).put("source", "agent")
                            .put("message", skipped + " bytes of agent output were not copied to the console; "
                                    + "get_task_logs with stream agent has them"))));
        }
        JsonObject progress = r.getJsonObject("progress");
        if (progress != null) {
            vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("event", new JsonObject()
                    .put("type", EventTypes.TASK_PROGRESS).put("task_id", record.id()).put("data", progress)));
        }
    }

    private boolean timedOut() {
        int limit = record.options().timeoutSeconds() != null ? record.options().timeoutSeconds() : policy.timeoutSeconds();
        return runningSince != null && clock.instant().isAfter(runningSince.plusSeconds(limit));
    }

    private void timeoutVm() {
        finishing = true;
        ask(Addresses.WORKER_VM_STOP, base().put("grace_seconds", policy.stopGraceSeconds()))
                .onComplete(ar -> drainConsole().onComplete(d -> collect().onComplete(c -> {
                    JsonObject res = c.succeeded() ? c.result() : new JsonObject();
                    int limit = record.options().timeoutSeconds() != null ? record.options().timeoutSeconds() : policy.timeoutSeconds();
                    fail("timeout", "the agent ran longer than " + limit + " s and its VM was stopped"
                            + (res.getInteger("commits", 0) > 0 ? "; its commits are saved on refs/tasks/" + record.id() : ""));
                })));
    }

    /** After a stop: publishes the console lines written since the last look, to the end. */
    private Future<Void> drainConsole() {
        return ask(Addresses.WORKER_VM_AWAIT, base().put("millis", 1).put("log_offset", logOffset))
                .compose(r -> {
                    publishLog(r);
                    return !r.getBoolean("running", false) && r.getBoolean("log_more", false) ? drainConsole() : Future.<Void>succeededFuture();
                })
                .recover(e -> Future.succeededFuture()); // the console file keeps every line in any case
    }

    private void stopVm() {
        ask(Addresses.WORKER_VM_STOP, base().put("grace_seconds", policy.stopGraceSeconds()));
        // the await loop notices the stop and collects
    }

    private Future<JsonObject> collect() {
        return ask(Addresses.WORKER_COLLECT).compose(res -> {
            agentError = res.getString("agent_error");
            TaskRecord next = record.withExitCode(res.getInteger("exit_code")).withResult(res.getJsonObject("result"));
            return persist(next, null).map(res);
        });
    }

    private void collectAndMerge() {
        if (record.state().isTerminal()) return;
        finishing = true;
        Future<Void> toMerging = record.state() == TaskState.MERGING ? Future.succeededFuture()
                : transition(TaskState.MERGING, r -> r, null);
        // the VM has stopped: its slot (storage, memory) is free for the next task while we merge
        toMerging.compose(v -> releaseHeldSlot()).compose(v -> collect()).onComplete(ar -> {
            if (ar.failed()) {
                failFrom(ar.cause(), "collect_failed");
                return;
            }
            JsonObject res = ar.result();
            if (cancelRequested) {
                int commits = res.getInteger("commits", 0);
                transition(TaskState.CANCELLED, r -> r.withFailure("cancelled", commits > 0
                        ? "cancelled; the agent's commits are kept on refs/tasks/" + r.id() : "cancelled"), null)
                        .onComplete(x -> finish());
                return;
            }
            if (res.getString("reason") != null) {
                fail(res.getString("reason"), res.getString("error"));
                return;
            }
            String strategy = record.options().mergeStrategy() != null ? record.options().mergeStrategy() : policy.defaultMergeStrategy();
            ask(Addresses.WORKER_MERGE, base().put("strategy", strategy)).onComplete(m -> {
                if (m.failed()) {
                    failFrom(m.cause(), "merge_failed");
                    return;
                }
                JsonObject merge = m.result();
                Integer exit = record.exitCode();
                boolean agentOk = exit == null || exit == 0;
                boolean mergeOk = merge.getBoolean("merged", false) || !"auto".equals(strategy) || merge.getInteger("commits", 0) == 0;
                if (agentOk && mergeOk) {
                    transition(TaskState.COMPLETED, r -> r.withMergeResult(merge), new JsonObject().put("merge_result", merge))
                            .onComplete(x -> finish());
                } else {
                    String reason = !agentOk ? "agent_failed" : merge.getString("reason", "merge_failed");
                    String error = !agentOk ? (agentError != null ? agentError : "the agent exited with code " + exit)
                            : "merge did not complete (" + reason + "); commits are kept on refs/tasks/" + record.id();
                    transition(TaskState.FAILED, r -> r.withMergeResult(merge).withFailure(reason, error),
                            new JsonObject().put("merge_result", merge)).onComplete(x -> finish());
                }
            });
        });
    }

    // ---------------------------------------------------------------- plumbing

    private void failFrom(Throwable cause, String defaultReason) {
        String reason = defaultReason;
        String message = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        if (message.startsWith("[")) {
            int end = message.indexOf(']');
            if (end > 1) {
                reason = message.substring(1, end);
                message = message.substring(end + 1).trim();
            }
        }
        fail(reason, message);
    }

    private void fail(String reason, String error) {
        if (record.state().isTerminal()) return;
        finishing = true;
        Future<Void> stop = record.state() == TaskState.RUNNING || record.state() == TaskState.STARTING
                ? ask(Addresses.WORKER_VM_STOP, base().put("grace_seconds", 0)).<Void>mapEmpty().recover(e -> Future.succeededFuture())
                : Future.succeededFuture();
        stop.compose(v -> releaseHeldSlot()).compose(v -> transition(record.cancelRequested() && !"timeout".equals(reason) ? TaskState.CANCELLED : TaskState.FAILED,
                        r -> r.withFailure(reason, error), null))
                .onComplete(x -> finish());
    }

    private Future<Void> transition(TaskState next, Function<TaskRecord, TaskRecord> change, JsonObject extra) {
        if (!next.isTerminal()) return applyTransition(next, change, extra);
        // metered API usage goes into the final record
        return vertx.eventBus().<JsonObject>request(Addresses.PROXY_USAGE, base(), new DeliveryOptions().setSendTimeout(5_000))
                .map(m -> m.body())
                .otherwise((JsonObject) null)
                .compose(usage -> applyTransition(next, r -> {
                    TaskRecord changed = change.apply(r);
                    return usage == null ? changed : changed.withUsage(usage);
                }, extra));
    }

    private Future<Void> applyTransition(TaskState next, Function<TaskRecord, TaskRecord> change, JsonObject extra) {
        TaskState previous = record.state();
        TaskRecord updated = change.apply(record.moveTo(next, clock.instant().toString()));
        JsonObject data = new JsonObject().put("state", next.wireName()).put("previous", previous.wireName())
                .put("repo", updated.repo()).put("caller", updated.caller());
        if (updated.reason() != null && next.isTerminal()) data.put("reason", updated.reason()).put("error", updated.error());
        if (next.isTerminal()) {
            data.put("exit_code", updated.exitCode());
            if (updated.result() != null) data.put("result", updated.result());
            if (updated.mergeResult() != null) data.put("merge_result", updated.mergeResult());
        }
        if (extra != null) data.mergeIn(extra);
        return persist(updated, new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", updated.id()).put("data", data));
    }

    private Future<Void> persist(TaskRecord next, JsonObject event) {
        record = next;
        JsonObject req = new JsonObject().put("record", next.toJson());
        if (event != null) req.put("event", event);
        return vertx.eventBus().<JsonObject>request(Addresses.WORKER_PERSIST, req).mapEmpty();
    }

    private void finish() {
        vertx.eventBus().request(Addresses.PROXY_UNREGISTER, base()).onFailure(e -> { /* no proxy: nothing registered */ });
        vertx.eventBus().request(Addresses.EGRESS_CLOSE, base()).onFailure(e -> { /* no egress proxy: nothing open */ });
        releaseHeldSlot().onComplete(v -> ask(Addresses.WORKER_DISOWN).onComplete(x -> {
            vertx.eventBus().publish(Addresses.TASK_FINISHED_LOCAL, base(), dev.microvm.orchestrator.node.EventSink.LOCAL);
            vertx.undeploy(deploymentID());
        }));
    }

    /** Releases this task's slot once; later calls do nothing. The record keeps the slot number. */
    private Future<Void> releaseHeldSlot() {
        if (slotReleased || record.slot() == null) return Future.succeededFuture();
        slotReleased = true;
        return releaseSlot(record.slot()).recover(e -> Future.succeededFuture());
    }

    private Future<Void> releaseSlot(int slot) {
        return vertx.eventBus().request(Addresses.SLOT_RELEASE, new JsonObject().put("task_id", record.id()).put("slot", slot)).mapEmpty();
    }

    private Future<JsonObject> ask(String address) {
        return ask(address, base());
    }

    private Future<JsonObject> ask(String address, JsonObject body) {
        return vertx.eventBus().<JsonObject>request(address, body, LONG).map(Message::body);
    }

    private JsonObject base() {
        return new JsonObject().put("task_id", record.id());
    }

    private Instant parseOr(String ts) {
        try {
            return ts == null ? clock.instant() : Instant.parse(ts);
        } catch (RuntimeException e) {
            return clock.instant();
        }
    }

    @Override
    public Future<?> stop() {
        return control == null ? Future.succeededFuture() : control.unregister();
    }

    /** For tests and the manager: the record as this verticle last persisted it. */
    public TaskRecord record() {
        return record;
    }
}
