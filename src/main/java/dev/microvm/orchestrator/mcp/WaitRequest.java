package dev.microvm.orchestrator.mcp;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * One wait_next_event call.
 *
 * @param caller     whose tasks to report
 * @param allTasks   report tasks of every caller
 * @param timeout    how long to wait
 * @param requestId  the JSON-RPC id, for notifications/cancelled (null when unknown)
 * @param progress   called every progress interval with a short status line
 */
record WaitRequest(String caller, boolean allTasks, Duration timeout, String requestId, Consumer<String> progress) {
}
