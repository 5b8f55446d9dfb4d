package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import java.util.Set;

/**
 * The local channel between a stdio MCP process and the daemon: one JSON object per line.
 *
 * <pre>
 * client → daemon  {"type":"hello","token":T}                       must be the first frame
 * daemon → client  {"type":"welcome","node_id":N}
 * client → daemon  {"type":"request","id":I,"address":A,"body":{...}}
 * daemon → client  {"type":"reply","id":I,"body":{...}} | {"type":"fail","id":I,"code":C,"message":M}
 * daemon → client  {"type":"event","body":{...}}                     every {@link Addresses#EVENTS} publication
 * </pre>
 *
 * Only the addresses an MCP server needs are forwarded; the worker pool, the slot allocator's
 * acquire/release and the proxy stay out of reach.
 */
final class DaemonProtocol {

    static final int MAX_FRAME = 32 * 1024 * 1024;
    static final long HELLO_TIMEOUT_MS = 2_000;
    static final long REQUEST_TIMEOUT_MS = 15 * 60_000L;

    static final Set<String> FORWARDED = Set.of(
            Addresses.TASK_SUBMIT, Addresses.TASK_CONTINUE, Addresses.TASK_GET, Addresses.TASK_LIST,
            Addresses.TASK_LOGS, Addresses.TASK_DIFF, Addresses.TASK_CANCEL, Addresses.TASK_MERGE,
            Addresses.TASK_CLEANUP, Addresses.REPO_LIST, Addresses.SLOT_LIST, Addresses.NODE_LIST,
            Addresses.NODE_DRIVER, Addresses.CLUSTER_NODES);

    private DaemonProtocol() {}

    static Buffer frame(JsonObject o) {
        return o.toBuffer().appendByte((byte) '\n');
    }
}
