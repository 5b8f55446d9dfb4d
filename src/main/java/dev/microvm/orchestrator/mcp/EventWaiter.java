package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * wait_next_event: hands each caller the terminal events of the tasks it started, each exactly
 * once, in log order. The event log is the source of truth; the caller's cursor moves (durably)
 * only when an event is handed out, so a restarted server or a backgrounded call loses nothing.
 * Wakes on {@link Addresses#EVENTS} publications and also polls the log, because another
 * orchestrator process may be the one appending.
 *
 * <p>All state changes of a wait run on the owning verticle's context.
 */
final class EventWaiter {

    private static final Logger log = LoggerFactory.getLogger(EventWaiter.class);
    private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(5);

    private final Vertx vertx;
    private final Context context;
    private final TaskStateIndex index;
    private final CursorStore cursors;
    private final BusClient bus;
    private final Duration progressInterval;
    private final Duration pollInterval;
    private final Set<WaitCall> active = ConcurrentHashMap.newKeySet();
    private final Map<String, WaitCall> byRequestId = new ConcurrentHashMap<>();
    private final Object deliveryLock = new Object();

    EventWaiter(Vertx vertx, Context context, TaskStateIndex index, CursorStore cursors, BusClient bus,
                Duration progressInterval, Duration pollInterval) {
        this.vertx = vertx;
        this.context = context;
        this.index = index;
        this.cursors = cursors;
        this.bus = bus;
        this.progressInterval = progressInterval;
        this.pollInterval = pollInterval;
    }

    Future<JsonObject> await(WaitRequest request) {
        Promise<JsonObject> promise = Promise.promise();
        context.runOnContext(v -> new WaitCall(request, promise).start());
        return promise.future();
    }

    /** Something was appended to the log: every pending wait looks again. */
    void wake() {
        context.runOnContext(v -> active.forEach(WaitCall::check));
    }

    /** notifications/cancelled for a request id (JSON text of the id). */
    void cancel(String requestId) {
        context.runOnContext(v -> {
            WaitCall call = byRequestId.get(requestId);
            if (call != null) call.finish(new JsonObject().put("cancelled", true));
        });
    }

    /** Ends every pending wait (shutdown). */
    void cancelAll() {
        context.runOnContext(v -> List.copyOf(active).forEach(c -> c.finish(new JsonObject().put("cancelled", true))));
    }

    private final class WaitCall {
        private final WaitRequest request;
        private final Promise<JsonObject> promise;
        private final String filter;
        private final long startedNanos = System.nanoTime();
        private Set<String> busUnfinished = Set.of();
        private boolean checking;
        private boolean recheck;
        private final AtomicBoolean done = new AtomicBoolean();
        private long timeoutTimer = -1;
        private long progressTimer = -1;
        private long pollTimer = -1;

        WaitCall(WaitRequest request, Promise<JsonObject> promise) {
            this.request = request;
            this.promise = promise;
            this.filter = request.allTasks() ? null : request.caller();
        }

        void start() {
            active.add(this);
            if (request.requestId() != null) byRequestId.put(request.requestId(), this);
            // While a look-up runs, settle() ends the wait instead, so an event found in time still wins.
            timeoutTimer = vertx.setTimer(Math.max(1, request.timeout().toMillis()), t -> {
                if (!checking) finish(new JsonObject().put("timeout", true));
            });
            progressTimer = vertx.setPeriodic(progressInterval.toMillis(), t -> progress());
            checking = true; // the first look-up starts after the task list reply
            JsonObject query = filter == null ? new JsonObject() : new JsonObject().put("caller", filter);
            bus.request(Addresses.TASK_LIST, query, STATUS_TIMEOUT).onComplete(ar -> {
                if (done.get()) return; // cancelled meanwhile: no timer may outlive the wait
                if (ar.succeeded()) busUnfinished = unfinishedOf(ar.result());
                else log.debug("task list unavailable, relying on the event log: {}", ar.cause().toString());
                pollTimer = vertx.setPeriodic(pollInterval.toMillis(), t -> check());
                checking = false;
                check();
            });
        }

        private Set<String> unfinishedOf(JsonObject reply) {
            Set<String> out = new HashSet<>();
            JsonArray tasks = reply.getJsonArray("tasks", new JsonArray());
            for (Object o : tasks) {
                if (!(o instanceof JsonObject t)) continue;
                String id = TaskRecords.taskId(t);
                if (id == null || !ours(id, t.getString("caller"))) continue;
                if (filter != null) index.claim(id, filter);
                if (!TaskStateIndex.isTerminal(TaskRecords.rawState(t))) out.add(id);
            }
            return out;
        }

        /**
         * Whether a listed task belongs to this wait. A record that names its caller is trusted;
         * one that does not only counts when the log already ties it to this caller, so a node
         * that ignores the caller filter can never make other sessions' tasks look like ours.
         */
        private boolean ours(String taskId, String recordCaller) {
            if (filter == null) return true;
            if (recordCaller != null) return filter.equals(recordCaller);
            return filter.equals(index.callerOf(taskId));
        }

        void check() {
            if (done.get()) return;
            if (checking) {
                recheck = true;
                return;
            }
            checking = true;
            recheck = false;
            vertx.<Lookup>executeBlocking(() -> {
                index.refresh();
                long cursor = cursors.readOrCreate(request.caller(), index.lastSeq());
                Optional<TaskEvent> next = index.firstTerminalAfter(cursor, filter);
                boolean running = !index.unfinished(filter).isEmpty()
                        || busUnfinished.stream().anyMatch(id -> !index.finished(id));
                return new Lookup(next.orElse(null), running);
            }, false).onComplete(ar -> {
                if (ar.failed()) {
                    log.warn("event log lookup failed", ar.cause());
                    settle();
                    return;
                }
                Lookup found = ar.result();
                if (found.event() != null) deliver(found.event());
                else if (!found.running()) finish(new JsonObject().put("no_running_tasks", true));
                else settle();
            });
        }

        private void settle() {
            checking = false;
            if (Duration.ofNanos(System.nanoTime() - startedNanos).compareTo(request.timeout()) >= 0) {
                finish(new JsonObject().put("timeout", true));
            } else if (recheck) {
                check();
            }
        }

        /** Completes the event from the task record when the event lacks fields, then commits the cursor. */
        private void deliver(TaskEvent event) {
            JsonObject out = TaskRecords.eventResult(event);
            Future<JsonObject> enriched = TaskRecords.needsRecord(out)
                    ? bus.request(Addresses.TASK_GET, new JsonObject().put("task_id", event.taskId()), STATUS_TIMEOUT)
                            .map(record -> TaskRecords.fillFrom(out, record)).otherwise(out)
                    : Future.succeededFuture(out);
            enriched.compose(result -> vertx.<Boolean>executeBlocking(() -> commit(event.seq()), false).map(ok -> ok ? result : null))
                    .onComplete(ar -> {
                        if (ar.failed()) {
                            log.warn("cannot persist delivery cursor", ar.cause());
                            settle();
                        } else if (ar.result() == null) {
                            recheck = true; // another wait of this caller handed it out first
                            settle();
                        } else {
                            close(ar.result());
                        }
                    });
        }

        /**
         * Moves the cursor past the event and marks this wait done, atomically with respect to
         * other waits (of this process and, through the cursor's file lock, of others), so an
         * event is handed to exactly one of them, and never marked delivered for a wait that
         * ended (timeout, cancel) in the meantime.
         */
        private boolean commit(long seq) {
            AtomicBoolean claimed = new AtomicBoolean();
            synchronized (deliveryLock) {
                try {
                    return cursors.advance(request.caller(), seq, () -> {
                        claimed.set(done.compareAndSet(false, true));
                        return claimed.get();
                    });
                } catch (RuntimeException e) {
                    if (claimed.get()) done.set(false); // not delivered: the wait goes on
                    throw e;
                }
            }
        }

        private void progress() {
            if (done.get()) return;
            long seconds = Duration.ofNanos(System.nanoTime() - startedNanos).toSeconds();
            try {
                StringBuilder message = new StringBuilder("waiting for task events (" + seconds + " s)");
                index.progress(filter).forEach((id, p) -> message.append("; task ").append(id).append(": ").append(describe(p)));
                request.progress().accept(message.toString());
            } catch (RuntimeException e) {
                log.debug("progress notification failed", e);
            }
        }

        void finish(JsonObject result) {
            if (done.compareAndSet(false, true)) close(result);
        }

        private void close(JsonObject result) {
            active.remove(this);
            if (request.requestId() != null) byRequestId.remove(request.requestId(), this);
            vertx.cancelTimer(timeoutTimer);
            vertx.cancelTimer(progressTimer);
            if (pollTimer >= 0) vertx.cancelTimer(pollTimer);
            promise.tryComplete(result);
        }
    }

    /** One task's agent progress in a few words: "3 turns, 2 tool uses (last Bash), $0.0123". */
    static String describe(JsonObject p) {
        StringBuilder s = new StringBuilder();
        s.append(p.getValue("turns", 0)).append(" turns, ").append(p.getValue("tool_uses", 0)).append(" tool uses");
        if (p.getString("last_tool") != null) s.append(" (last ").append(p.getString("last_tool")).append(')');
        if (p.getValue("cost_usd") instanceof Number cost) s.append(String.format(java.util.Locale.ROOT, ", $%.4f", cost.doubleValue()));
        return s.toString();
    }

    private record Lookup(TaskEvent event, boolean running) {}
}
