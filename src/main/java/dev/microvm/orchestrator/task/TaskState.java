package dev.microvm.orchestrator.task;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The task lifecycle. Every transition is validated here; terminal states are final.
 *
 * <pre>
 *   QUEUED ──► STARTING ──► RUNNING ──► MERGING ──► COMPLETED
 *     │           │            │           │
 *     │           │            │           └──────► FAILED
 *     ├───────────┴────────────┴──────────────────► FAILED     (boot failure, timeout, lost VM)
 *     └───────────┴────────────┴──────────────────► CANCELLED  (cancel_task; work kept on refs/tasks/&lt;id&gt;)
 * </pre>
 *
 * A cancelled RUNNING task still passes through MERGING to save the agent's commits; its final
 * state is then CANCELLED rather than COMPLETED.
 */
public enum TaskState {
    QUEUED, STARTING, RUNNING, MERGING, COMPLETED, FAILED, CANCELLED;

    private static final Set<TaskState> TERMINAL = EnumSet.of(COMPLETED, FAILED, CANCELLED);

    public boolean isTerminal() {
        return TERMINAL.contains(this);
    }

    public Set<TaskState> successors() {
        return switch (this) {
            case QUEUED -> EnumSet.of(STARTING, FAILED, CANCELLED);
            case STARTING -> EnumSet.of(RUNNING, FAILED, CANCELLED);
            case RUNNING -> EnumSet.of(MERGING, FAILED, CANCELLED);
            case MERGING -> EnumSet.of(COMPLETED, FAILED, CANCELLED);
            case COMPLETED, FAILED, CANCELLED -> EnumSet.noneOf(TaskState.class);
        };
    }

    /** True when {@code wire} names a terminal state (any case); false for null or an unknown name. */
    public static boolean isTerminalWire(String wire) {
        if (wire == null) return false;
        for (TaskState t : TERMINAL) if (t.name().equalsIgnoreCase(wire)) return true;
        return false;
    }

    public boolean canMoveTo(TaskState next) {
        return successors().contains(next);
    }

    /** Lowercase name used in JSON, tool results and events. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TaskState fromWire(String s) {
        if (s == null) throw new IllegalArgumentException("missing task state");
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown task state '" + s + "'; expected one of queued, starting, running, merging, completed, failed, cancelled");
        }
    }
}
