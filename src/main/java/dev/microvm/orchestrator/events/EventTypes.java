package dev.microvm.orchestrator.events;

/** The event types the orchestrator writes. Kept here so producers and consumers agree. */
public final class EventTypes {
    /** A task changed state; data: {state, previous, reason?, slot?, merge_result?, ...}. */
    public static final String TASK_STATE = "task.state";
    /**
     * The task's setup phase (.microvm/environment.json) ended; data: {outcome: ok|skipped|failed|unreadable|not_run,
     * duration_ms, commands, index?, command?, exit_code?, error?, environment: {source, sha256, commit}}.
     */
    public static final String TASK_SETUP = "task.setup";
    /** A finished task was merged later (merge_task); data: {merge_result}. */
    public static final String TASK_MERGED = "task.merged";
    /**
     * Console or agent output lines of a running task; data: {stream, lines:[...], offset?, next_offset?, continues?}
     * where the console byte range [offset, next_offset) holds the lines. A line too long for one
     * entry is split over several; {@code continues} lists the indexes of entries whose line goes
     * on in the next entry (for the last entry: in the first entry of the stream's next task.log).
     */
    public static final String TASK_LOG = "task.log";
    /**
     * Output that did not reach the event stream, and where it can be read instead; data: {stream,
     * bytes, source, message}. For example the in-guest runner does not copy a jump of more than
     * 1 MiB of agent output to the console; the agent log (get_task_logs stream agent) has it.
     */
    public static final String TASK_OUTPUT_SKIPPED = "task.output_skipped";
    /**
     * Console lines were compacted out of the event log (retention); data: {through_seq,
     * dropped_events, dropped_bytes, message}. It carries the sequence number of the last dropped
     * line, so a reader resuming inside the compacted range meets it; get_task_logs still has the lines.
     */
    public static final String LOG_COMPACTED = "log.compacted";
    /** Agent progress parsed from stream-json; data: {turns, tool_uses, cost_usd, last_tool?}. */
    public static final String TASK_PROGRESS = "task.progress";
    /** API usage metered by the credential proxy; data: {input_tokens, output_tokens, cost_usd}. */
    public static final String TASK_USAGE = "task.usage";
    /** Slot assignment changed; data: {slot, task_id?, state}. */
    public static final String SLOT = "slot";
    /** A guest's attempt that the egress proxy refused (network allowlist): {host, port, method, reason}. */
    public static final String NETWORK_DENIED = "network.denied";
    /** Cluster membership changed; data: {node_id, state}. */
    public static final String NODE = "node";

    private EventTypes() {}
}
