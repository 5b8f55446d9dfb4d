package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.task.TaskState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Task and slot metrics derived from the event stream alone, so they need no access to the task
 * manager and survive restarts (the log is replayed at start):
 * <ul>
 *   <li>{@code mvo_tasks{state}} — tasks currently in each state;</li>
 *   <li>{@code mvo_task_queue_length} — tasks waiting for a slot;</li>
 *   <li>{@code mvo_slots_in_use} — slots that hold a task;</li>
 *   <li>{@code mvo_task_duration_seconds{state}} — first event to terminal state, per final state;</li>
 *   <li>{@code mvo_tasks_finished_total{state}} and {@code mvo_events_total{type}};</li>
 *   <li>{@code mvo_network_denied_total} — connections the egress proxy refused (network allowlist).</li>
 * </ul>
 * Events are applied in sequence order; a live event already seen during the replay is skipped.
 * Not thread-safe: one event loop feeds it.
 */
final class TaskMetrics {

    private static final Set<String> SLOT_FREE = Set.of("free", "released", "available", "idle");
    private static final List<String> KNOWN_STATES =
            List.of("queued", "starting", "running", "merging", "completed", "failed", "cancelled");

    private final MeterRegistry registry;
    private final Map<String, String> stateByTask = new HashMap<>();
    private final Map<String, Instant> firstSeen = new HashMap<>();
    private final Map<String, AtomicInteger> tasksByState = new HashMap<>();
    private final Map<String, Boolean> slotBusy = new HashMap<>();
    private final Map<String, Counter> eventCounters = new HashMap<>();
    private final AtomicInteger slotsInUse = new AtomicInteger();
    private final Counter networkDenied;
    private long lastSeq;
    private List<TaskEvent> heldDuringReplay = new ArrayList<>();

    TaskMetrics(MeterRegistry registry) {
        this.registry = registry;
        KNOWN_STATES.forEach(this::stateGauge);
        Gauge.builder("mvo_task_queue_length", () -> stateGauge("queued").get())
                .description("tasks waiting for a slot").register(registry);
        Gauge.builder("mvo_slots_in_use", slotsInUse, AtomicInteger::get)
                .description("slots currently holding a task").register(registry);
        networkDenied = Counter.builder("mvo_network_denied_total")
                .description("guest connections the egress proxy refused (network allowlist)").register(registry);
    }

    /** Applies a page of the durable log read at start. */
    void replay(List<TaskEvent> page) {
        page.forEach(this::apply);
    }

    /** Ends the replay: applies live events that arrived meanwhile and were not in the log yet. */
    void replayDone() {
        List<TaskEvent> held = heldDuringReplay;
        heldDuringReplay = null;
        held.forEach(this::apply);
    }

    long lastSequence() {
        return lastSeq;
    }

    void onLive(TaskEvent event) {
        if (heldDuringReplay != null) heldDuringReplay.add(event);
        else apply(event);
    }

    private void apply(TaskEvent e) {
        if (e.seq() <= lastSeq) return;
        lastSeq = e.seq();
        eventCounters.computeIfAbsent(String.valueOf(e.type()),
                type -> Counter.builder("mvo_events_total").tag("type", type).register(registry)).increment();
        if (EventTypes.TASK_STATE.equals(e.type()) && e.taskId() != null) onTaskState(e);
        else if (EventTypes.SLOT.equals(e.type())) onSlot(e.data());
        else if (EventTypes.NETWORK_DENIED.equals(e.type())) networkDenied.increment();
    }

    private void onTaskState(TaskEvent e) {
        String state = e.data().getString("state");
        if (state == null) return;
        state = state.toLowerCase(Locale.ROOT);
        String previous = stateByTask.put(e.taskId(), state);
        if (previous != null) stateGauge(previous).decrementAndGet();
        stateGauge(state).incrementAndGet();
        Instant at = parse(e.ts());
        if (at != null) firstSeen.putIfAbsent(e.taskId(), at);
        if (TaskState.isTerminalWire(state) && !TaskState.isTerminalWire(previous)) {
            Counter.builder("mvo_tasks_finished_total").tag("state", state).register(registry).increment();
            Instant start = firstSeen.remove(e.taskId());
            if (start != null && at != null && !at.isBefore(start)) {
                Timer.builder("mvo_task_duration_seconds").tag("state", state)
                        .description("time from submission to the final state").publishPercentileHistogram()
                        .register(registry).record(Duration.between(start, at));
            }
        }
    }

    private void onSlot(JsonObject data) {
        Object slot = data.getValue("slot");
        if (slot == null) return;
        String state = String.valueOf(data.getString("state", "")).toLowerCase(Locale.ROOT);
        boolean busy = data.getString("task_id") != null && !SLOT_FREE.contains(state);
        Boolean before = slotBusy.put(String.valueOf(slot), busy);
        if (busy && !Boolean.TRUE.equals(before)) slotsInUse.incrementAndGet();
        if (!busy && Boolean.TRUE.equals(before)) slotsInUse.decrementAndGet();
    }

    private AtomicInteger stateGauge(String state) {
        return tasksByState.computeIfAbsent(state, s -> {
            AtomicInteger n = new AtomicInteger();
            Gauge.builder("mvo_tasks", n, AtomicInteger::get).tag("state", s)
                    .description("tasks currently in each state").register(registry);
            return n;
        });
    }

    private static Instant parse(String ts) {
        try {
            return ts == null ? null : Instant.parse(ts);
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
