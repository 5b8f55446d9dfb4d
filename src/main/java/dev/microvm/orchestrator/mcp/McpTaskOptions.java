package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonObject;

/**
 * Translates task options from the MCP tool vocabulary (tools.json: merge_strategy
 * merge|rebase|ff-only|manual, timeout_minutes, memory_mb) into the node's
 * (TaskOptions: merge_strategy auto|branch|none, timeout_seconds, memory_mib). Values the node
 * already understands pass through unchanged, so the node stays the one that rejects bad input.
 */
final class McpTaskOptions {

    private McpTaskOptions() {}

    static JsonObject toNode(JsonObject args) {
        JsonObject out = args.copy();
        if (out.getValue("merge_strategy") instanceof String s) out.put("merge_strategy", strategy(s));
        if (out.getValue("timeout_minutes") instanceof Number n) {
            out.remove("timeout_minutes");
            out.put("timeout_seconds", Math.multiplyExact(n.intValue(), 60));
        }
        if (out.getValue("memory_mb") instanceof Number n) {
            out.remove("memory_mb");
            out.put("memory_mib", n.intValue());
        }
        return out;
    }

    /**
     * The node's merge-back (auto) fast-forwards when it can and otherwise replays the task's
     * commits onto the branch tip, so merge, rebase and ff-only all come back through it;
     * manual keeps the commits on refs/tasks/&lt;id&gt; only.
     */
    static String strategy(String mcpName) {
        return switch (mcpName) {
            case "merge", "rebase", "ff-only" -> "auto";
            case "manual" -> "none";
            default -> mcpName;
        };
    }
}
