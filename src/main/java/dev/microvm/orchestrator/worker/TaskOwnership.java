package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.HostLock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.util.HashMap;
import java.util.Map;

/**
 * Exactly one process owns a task at a time: the one holding the OS lock on
 * {@code tasks/<id>/owner.lock}. The lock dies with the process, which lets another process adopt
 * the task after a crash.
 */
public final class TaskOwnership {

    private final StatePaths paths;
    private final Map<String, FileChannel> owned = new HashMap<>();

    public TaskOwnership(StatePaths paths) {
        this.paths = paths;
    }

    /** True when this process owns the task now (already or newly). */
    public synchronized boolean own(String taskId) {
        if (owned.containsKey(taskId)) return true;
        try {
            FileChannel ch = HostLock.tryHold(paths.taskOwnerLock(taskId));
            if (ch == null) return false;
            owned.put(taskId, ch);
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock task " + taskId, e);
        }
    }

    public synchronized void disown(String taskId) {
        FileChannel ch = owned.remove(taskId);
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing releases the lock; nothing else to do
        }
    }

    public synchronized boolean ownsAny() {
        return !owned.isEmpty();
    }

    public synchronized void releaseAll() {
        for (String id : Map.copyOf(owned).keySet()) disown(id);
    }
}
