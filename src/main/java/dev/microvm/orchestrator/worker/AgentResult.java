package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonObject;

import java.util.function.UnaryOperator;

/** Extracts the agent's final report from the tail of its stream-json output. */
final class AgentResult {

    private static final int MAX_TEXT = 8000;

    private AgentResult() {}

    /** The last {@code {"type":"result",...}} record, trimmed to the fields users need, or null. */
    static JsonObject parse(String logTail, UnaryOperator<String> redactor) {
        String[] lines = logTail.split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            String line = lines[i].strip();
            if (!line.startsWith("{") || !line.contains("\"result\"")) continue;
            try {
                JsonObject j = new JsonObject(line);
                if (!"result".equals(j.getString("type"))) continue;
                JsonObject out = new JsonObject()
                        .put("success", !j.getBoolean("is_error", false) && "success".equals(j.getString("subtype")))
                        .put("subtype", j.getString("subtype"))
                        .put("num_turns", j.getValue("num_turns"))
                        .put("duration_ms", j.getValue("duration_ms"))
                        .put("total_cost_usd", j.getValue("total_cost_usd"))
                        .put("session_id", j.getString("session_id"));
                String text = j.getValue("result") instanceof String s ? s : null;
                if (text != null) {
                    if (text.length() > MAX_TEXT) text = text.substring(0, MAX_TEXT) + "... (truncated)";
                    out.put("summary", redactor.apply(text));
                }
                return out;
            } catch (RuntimeException ignored) {
                // not JSON after all: keep looking
            }
        }
        return null;
    }
}
