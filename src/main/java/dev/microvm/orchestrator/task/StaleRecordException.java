package dev.microvm.orchestrator.task;

/**
 * A record write refused by {@link TaskStore#save}: the disk already holds the same or a newer
 * revision of the task, so writing would take the task back in time. Nothing was written.
 */
public final class StaleRecordException extends RuntimeException {
    private final String taskId;
    private final long offered;
    private final long onDisk;

    public StaleRecordException(String taskId, long offered, long onDisk) {
        super("task " + taskId + ": revision " + offered + " was not written, the record on disk is already at revision " + onDisk);
        this.taskId = taskId;
        this.offered = offered;
        this.onDisk = onDisk;
    }

    public String taskId() { return taskId; }

    /** The revision the caller tried to write. */
    public long offered() { return offered; }

    /** The revision found on disk, the same as or newer than {@link #offered()}. */
    public long onDisk() { return onDisk; }
}
