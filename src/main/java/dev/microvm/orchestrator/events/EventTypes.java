package dev.microvm.orchestrator.events;

/** The event types the orchestrator writes. Kept here so producers and consumers agree. */
public final class EventTypes {
    /** A task changed state; data: {state, previous, reason?, slot?, merge_result?, ...}. */
    public static final String TASK_STATE = "task.state";
    /** A finished task was merged later (merge_task); data: {merge_result}. */
    public static final String TASK_MERGED = "task.merged";
    /**
     * Console or agent output lines of a running task; data: {stream, lines:[...], offset?, next_offset?}
     * where the console byte range [offset, next_offset) holds the lines (whole lines only).
     */
    public static final String TASK_LOG = "task.log";
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
