package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;

/** The record an operation works on; an unknown task is the caller's mistake (invalid_request). */
final class KnownTasks {

    private KnownTasks() {}

    static TaskRecord load(TaskStore store, String taskId) {
        return store.load(taskId).orElseThrow(() -> new IllegalArgumentException("unknown task '" + taskId + "'"));
    }
}
