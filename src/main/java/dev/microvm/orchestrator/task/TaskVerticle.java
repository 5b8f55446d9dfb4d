package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;

import java.time.Clock;
import java.util.function.Function;

/**
 * One deployed per task: owns the task's state machine (see {@link TaskState}) and its record.
 * All blocking work is asked of the worker pool over the event bus; every transition is persisted
 * by the worker before its event is published, one persist after the other. The steps live in
 * collaborators on this verticle's context: {@link TaskStart} (slot, boot, recovery),
 * {@link TaskRun} (the running VM), {@link TaskEnd} (collect, merge, outcome).
 *
 * <p>A persist that fails ends the task in a defined state: its VM is stopped, its slot released,
 * and FAILED ({@code persist_failed}) recorded; if even that cannot be written, this process lets
 * the task go (disown, undeploy) and recovery adopts it from its last durable record.
 */
public final class TaskVerticle extends VerticleBase {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TaskVerticle.class);

    static final DeliveryOptions LONG = new DeliveryOptions().setSendTimeout(30 * 60_000L);

    final Clock clock;
    final TaskPolicy policy;
    private final boolean recovering;
    private TaskRecord record;
    /** The last record the worker confirmed written. */
    private TaskRecord durable;
    /** Completes when every persist asked so far has completed: the next one waits for it. */
    private Future<Void> persisted = Future.succeededFuture();
    private MessageConsumer<JsonObject> control;
    private boolean cancelRequested;
    /** Set once the task heads for its end (stop, collect, fail): the await loop stops. */
    boolean finishing;
    private boolean slotReleased;
    private boolean persistBroken;
    private boolean stopped;
    /** A stop failed: the VM may still use the slot's storage. */
    private boolean vmMayRun;
    final TaskStart start = new TaskStart(this);
    final TaskRun run = new TaskRun(this);
    final TaskEnd end = new TaskEnd(this);

    /** Policy values the node decides (timeouts, defaults). */
    public record TaskPolicy(int timeoutSeconds, int stopGraceSeconds, String defaultMergeStrategy, boolean credentialInFile) {}

    public TaskVerticle(TaskRecord record, boolean recovering, TaskPolicy policy, Clock clock) {
        this.record = record;
        this.durable = record;
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
            start.acquireSlot();
            return;
        }
        switch (record.state()) {
            case QUEUED -> start.acquireSlot();
            case MERGING -> {
                slotReleased = true; // released when the VM stopped: merging needs no slot
                end.collectAndMerge();
            }
            case STARTING, RUNNING -> start.reclaimSlotAndRecover();
            default -> finish();
        }
    }

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
            vertx.eventBus().request(Addresses.SLOT_DEQUEUE, base())
                    .onComplete(ar -> transition(TaskState.CANCELLED, r -> r.withCancelRequested().withFailure(FailureReason.CANCELLED, "cancelled before it started"), null)
                            .onComplete(x -> msg.reply(record.toJson()))
                            .onSuccess(x -> finish()));
            return;
        }
        persist(record.withCancelRequested(), null).onComplete(ar -> msg.reply(record.toJson()));
        if (record.state() == TaskState.RUNNING) run.stopVm();
        // STARTING: noticed when the VM is up; MERGING: finishes as cancelled.
    }

    // ---------------------------------------------------------------- state, for the collaborators

    TaskRecord record() {
        return record;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    /** The cancel marker another process left was noticed: record it and stop the VM. */
    void noteCancel() {
        if (cancelRequested) return;
        cancelRequested = true;
        persist(record.withCancelRequested(), null);
        run.stopVm();
    }

    /** False once the task no longer wants a slot (it ended, was cancelled, or this verticle stopped). */
    boolean wantsSlot() {
        return !stopped && !persistBroken && !record.state().isTerminal() && !cancelRequested;
    }

    // ---------------------------------------------------------------- failing

    /** Fails with the reason {@code cause} carries, or {@code fallback}. */
    void failFrom(Throwable cause, FailureReason fallback) {
        TaskFailure f = TaskFailure.of(cause, fallback);
        fail(f.reason(), f.getMessage());
    }

    void fail(FailureReason reason, String error) {
        if (record.state().isTerminal() || persistBroken) return;
        finishing = true;
        stopIfRunning(record.state())
                .compose(v -> releaseHeldSlot())
                .compose(v -> transition(OutcomePolicy.afterFailure(reason, record.cancelRequested()), r -> r.withFailure(reason, error), null))
                .onSuccess(x -> finish());
    }

    /**
     * Stops the VM now if one may run. A VM that cannot be stopped keeps its slot reserved by this
     * process (the slot is not released), so no other task boots on storage it may still use.
     */
    private Future<Void> stopIfRunning(TaskState state) {
        if (state != TaskState.RUNNING && state != TaskState.STARTING) return Future.succeededFuture();
        return ask(Addresses.WORKER_VM_STOP, base().put("grace_seconds", 0)).<Void>mapEmpty().recover(e -> {
            TaskFailure f = TaskFailure.of(e, FailureReason.VM_FAILED);
            if (f.reason() != FailureReason.VM_LOST) { // VM_LOST: no VM was ever recorded, nothing runs
                LOG.error("task {}: its VM could not be stopped ({}); slot {} stays reserved while this process runs",
                        record.id(), f.getMessage(), record.slot());
                vmMayRun = true;
            }
            return Future.succeededFuture();
        });
    }

    /**
     * A persist failed: the task cannot go on with a record that may not be on disk. Stop its VM,
     * release its slot, record FAILED from the last durable record; if that fails too, let go.
     */
    private void persistFailed(TaskRecord attempted, Throwable cause) {
        if (persistBroken) return;
        persistBroken = true;
        finishing = true;
        String why = "the task's record could not be written (" + TaskFailure.of(cause, FailureReason.PERSIST_FAILED).getMessage() + ")";
        LOG.warn("task {}: {}; stopping it", attempted.id(), why);
        TaskRecord last = durable;
        stopIfRunning(attempted.state().isTerminal() ? last.state() : attempted.state())
                .compose(v -> releaseHeldSlot())
                .compose(v -> {
                    if (last.state().isTerminal()) return Future.<Void>succeededFuture();
                    TaskRecord failed = last.revisedAfter(record.revision()).moveTo(TaskState.FAILED, clock.instant().toString())
                            .withFailure(FailureReason.PERSIST_FAILED, why);
                    return write(failed, stateEvent(last.state(), failed, null));
                })
                .onComplete(ar -> {
                    if (ar.succeeded()) {
                        finish();
                    } else {
                        LOG.warn("task {}: FAILED could not be recorded either ({}); leaving it to recovery", attempted.id(), ar.cause().getMessage());
                        letGo();
                    }
                });
    }

    // ---------------------------------------------------------------- persisting

    Future<Void> transition(TaskState next, Function<TaskRecord, TaskRecord> change, JsonObject extra) {
        if (!next.isTerminal()) return applyTransition(next, change, extra);
        // metered API usage goes into the final record
        return vertx.eventBus().<JsonObject>request(Addresses.PROXY_USAGE, base(), new DeliveryOptions().setSendTimeout(5_000))
                .map(Message::body)
                .otherwise((JsonObject) null)
                .compose(usage -> applyTransition(next, r -> {
                    TaskRecord changed = change.apply(r);
                    return usage == null ? changed : changed.withUsage(usage);
                }, extra));
    }

    private Future<Void> applyTransition(TaskState next, Function<TaskRecord, TaskRecord> change, JsonObject extra) {
        if (persistBroken) return Future.failedFuture("the task's record can no longer be written");
        TaskState previous = record.state();
        TaskRecord updated = change.apply(record.moveTo(next, clock.instant().toString()));
        return persist(updated, stateEvent(previous, updated, extra));
    }

    private static JsonObject stateEvent(TaskState previous, TaskRecord updated, JsonObject extra) {
        TaskState next = updated.state();
        JsonObject data = new JsonObject().put("state", next.wireName()).put("previous", previous.wireName())
                .put("repo", updated.repo()).put("caller", updated.caller());
        if (updated.reason() != null && next.isTerminal()) data.put("reason", updated.reason()).put("error", updated.error());
        if (next.isTerminal()) {
            data.put("exit_code", updated.exitCode());
            if (updated.result() != null) data.put("result", updated.result());
            if (updated.mergeResult() != null) data.put("merge_result", updated.mergeResult());
        }
        if (extra != null) data.mergeIn(extra);
        return new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", updated.id()).put("data", data);
    }

    /** Persists {@code next} (and {@code event}) after every earlier persist; a failure ends the task (see {@link #persistFailed}). */
    Future<Void> persist(TaskRecord next, JsonObject event) {
        if (persistBroken) return Future.failedFuture("the task's record can no longer be written");
        record = next;
        return write(next, event).onFailure(e -> persistFailed(next, e));
    }

    /** An event only (console lines, progress), in order with the records; its loss does not end the task. */
    void publish(JsonObject event) {
        write(null, event).onFailure(e -> LOG.warn("task {}: an event could not be written: {}", record.id(), e.getMessage()));
    }

    private Future<Void> write(TaskRecord next, JsonObject event) {
        JsonObject req = new JsonObject();
        if (next != null) req.put("record", next.toJson());
        if (event != null) req.put("event", event);
        Future<Void> done = persisted.transform(x -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_PERSIST, req).<Void>mapEmpty())
                .onSuccess(v -> {
                    if (next != null && next.revision() > durable.revision()) durable = next;
                });
        persisted = done.otherwiseEmpty();
        return done;
    }

    // ---------------------------------------------------------------- ending

    void finish() {
        vertx.eventBus().request(Addresses.PROXY_UNREGISTER, base()).onFailure(e -> { /* no proxy: nothing registered */ });
        vertx.eventBus().request(Addresses.EGRESS_CLOSE, base()).onFailure(e -> { /* no egress proxy: nothing open */ });
        releaseHeldSlot().onComplete(v -> letGo());
    }

    /** Gives up ownership and undeploys; whatever the durable record says is left to recovery. */
    private void letGo() {
        ask(Addresses.WORKER_DISOWN).onComplete(x -> {
            vertx.eventBus().publish(Addresses.TASK_FINISHED_LOCAL, base(), EventSink.LOCAL);
            vertx.undeploy(deploymentID());
        });
    }

    /** Gives back a slot this task was granted but no longer needs (it was cancelled while the grant was on its way). */
    void releaseUnneeded(int slot) {
        vertx.eventBus().request(Addresses.SLOT_RELEASE, base().put("slot", slot)).onFailure(e -> { /* no allocator: the lock goes with the process */ });
    }

    /** Releases this task's slot once; later calls do nothing. The record keeps the slot number. */
    Future<Void> releaseHeldSlot() {
        if (slotReleased || vmMayRun || record.slot() == null) return Future.succeededFuture();
        slotReleased = true;
        return vertx.eventBus().request(Addresses.SLOT_RELEASE, base().put("slot", record.slot())).<Void>mapEmpty()
                .recover(e -> Future.succeededFuture());
    }

    // ---------------------------------------------------------------- plumbing

    io.vertx.core.Vertx vertx() {
        return vertx;
    }

    Future<JsonObject> ask(String address) {
        return ask(address, base());
    }

    Future<JsonObject> ask(String address, JsonObject body) {
        return vertx.eventBus().<JsonObject>request(address, body, LONG).map(Message::body);
    }

    JsonObject base() {
        return new JsonObject().put("task_id", record.id());
    }

    @Override
    public Future<?> stop() {
        stopped = true;
        if (record.state() == TaskState.QUEUED) vertx.eventBus().request(Addresses.SLOT_DEQUEUE, base()).onFailure(e -> { /* no allocator */ });
        return control == null ? Future.succeededFuture() : control.unregister();
    }
}
