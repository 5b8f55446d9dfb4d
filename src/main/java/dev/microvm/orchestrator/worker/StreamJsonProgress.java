package dev.microvm.orchestrator.worker;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Follows a Claude Code {@code --output-format stream-json} log line by line and keeps the agent's
 * progress: turns so far, tool uses, the last tool, tokens, and the cost once the final
 * {@code result} line reports it. Feed it every line; whenever a line changes the progress it
 * returns the data of a {@code task.progress} event:
 * {@code {turns, tool_uses, last_tool?, input_tokens, output_tokens, cost_usd?, model?, done, is_error?, subtype?}}.
 *
 * <p>Lines are untrusted guest output: anything that is not a JSON object of a known shape is
 * ignored, and no text from the agent (prompts, tool inputs, results) is copied into the progress.
 *
 * <p>One assistant message may be written as several lines (one per content block) sharing a
 * message id, so turns and tool uses are counted by id, not by line.
 */
public final class StreamJsonProgress {

    private static final int MAX_LINE = 4 * 1024 * 1024;
    private static final int MAX_NAME = 100;

    private final Set<String> messageIds = new HashSet<>();
    private final Set<String> toolUseIds = new HashSet<>();
    private int anonymousTurns;
    private int anonymousToolUses;
    private String lastTool;
    private String model;
    private long inputTokens;
    private long outputTokens;
    private Double costUsd;
    private Integer resultTurns;
    private boolean done;
    private Boolean isError;
    private String subtype;

    /** Consumes one line; returns the new progress when the line changed it. */
    public Optional<JsonObject> accept(String line) {
        if (line == null || line.length() > MAX_LINE || line.isBlank()) return Optional.empty();
        JsonObject json;
        try {
            json = new JsonObject(line.strip());
        } catch (DecodeException | ClassCastException e) {
            return Optional.empty();
        }
        boolean changed = switch (String.valueOf(json.getValue("type"))) {
            case "system" -> onSystem(json);
            case "assistant" -> onAssistant(json);
            case "result" -> onResult(json);
            default -> false;
        };
        return changed ? Optional.of(progress()) : Optional.empty();
    }

    /** The progress so far. */
    public JsonObject progress() {
        JsonObject p = new JsonObject()
                .put("turns", resultTurns != null ? resultTurns : messageIds.size() + anonymousTurns)
                .put("tool_uses", toolUseIds.size() + anonymousToolUses)
                .put("input_tokens", inputTokens)
                .put("output_tokens", outputTokens)
                .put("done", done);
        if (lastTool != null) p.put("last_tool", lastTool);
        if (costUsd != null) p.put("cost_usd", costUsd);
        if (model != null) p.put("model", model);
        if (isError != null) p.put("is_error", isError);
        if (subtype != null) p.put("subtype", subtype);
        return p;
    }

    private boolean onSystem(JsonObject json) {
        if (!"init".equals(json.getValue("subtype"))) return false;
        model = shortText(json.getValue("model"));
        return true;
    }

    private boolean onAssistant(JsonObject json) {
        JsonObject message = object(json.getValue("message"));
        if (message == null) return false;
        String id = shortText(message.getValue("id"));
        boolean newTurn = id == null ? ++anonymousTurns > 0 : messageIds.add(id);
        JsonObject usage = object(message.getValue("usage"));
        if (usage != null && newTurn) {
            // every line of one message repeats the message's usage: count it once
            inputTokens += number(usage.getValue("input_tokens"));
            outputTokens += number(usage.getValue("output_tokens"));
        }
        boolean toolChanged = false;
        if (message.getValue("content") instanceof JsonArray content) {
            for (Object block : content) {
                JsonObject b = object(block);
                if (b == null || !"tool_use".equals(b.getValue("type"))) continue;
                String toolId = shortText(b.getValue("id"));
                if (toolId == null) anonymousToolUses++;
                else if (!toolUseIds.add(toolId)) continue;
                String name = shortText(b.getValue("name"));
                if (name != null) lastTool = name;
                toolChanged = true;
            }
        }
        return newTurn || toolChanged;
    }

    private boolean onResult(JsonObject json) {
        done = true;
        if (json.getValue("total_cost_usd") instanceof Number cost) costUsd = cost.doubleValue();
        if (json.getValue("num_turns") instanceof Number turns) resultTurns = turns.intValue();
        if (json.getValue("is_error") instanceof Boolean err) isError = err;
        subtype = shortText(json.getValue("subtype"));
        JsonObject usage = object(json.getValue("usage"));
        if (usage != null) {
            // the result's usage is the session total: it replaces the running sum
            inputTokens = Math.max(inputTokens, number(usage.getValue("input_tokens")));
            outputTokens = Math.max(outputTokens, number(usage.getValue("output_tokens")));
        }
        return true;
    }

    private static JsonObject object(Object o) {
        return o instanceof JsonObject j ? j : null;
    }

    private static long number(Object o) {
        return o instanceof Number n && n.longValue() > 0 ? n.longValue() : 0;
    }

    /** Names and ids only: short, printable, or nothing. */
    private static String shortText(Object o) {
        if (!(o instanceof String s) || s.isEmpty() || s.length() > MAX_NAME) return null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) return null;
        }
        return s;
    }
}
