package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.events.TaskEvent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Locale;

/**
 * Reads task records and task events tolerantly (nodes of other versions may add or omit fields)
 * and presents them in the tool output vocabulary: lowercase {@code status}, {@code task_id}.
 */
final class TaskRecords {

    /** Fields a finished-task event carries in wait_next_event output (null when unknown). */
    static final List<String> EVENT_FIELDS = List.of("exit_code", "error", "result", "merge_result");

    private TaskRecords() {}

    static String taskId(JsonObject record) {
        String id = record.getString("task_id");
        return id != null ? id : record.getValue("id") instanceof String s ? s : null;
    }

    /** The state as the node spelled it ({@code state} or {@code status}). */
    static String rawState(JsonObject record) {
        Object state = record.getValue("state");
        if (!(state instanceof String)) state = record.getValue("status");
        return state instanceof String s ? s : null;
    }

    /** A copy with {@code task_id} and a lowercase {@code status} present. */
    static JsonObject normalize(JsonObject record) {
        JsonObject out = record.copy();
        String id = taskId(record);
        if (id != null) out.put("task_id", id);
        String state = rawState(record);
        if (state != null) out.put("status", state.toLowerCase(Locale.ROOT));
        return out;
    }

    static JsonObject normalizeList(JsonObject reply, String listField) {
        JsonObject out = reply.copy();
        JsonArray items = new JsonArray();
        for (Object o : reply.getJsonArray(listField, new JsonArray())) {
            items.add(o instanceof JsonObject t ? normalize(t) : o);
        }
        return out.put(listField, items);
    }

    /** The original's event shape: {task_id, event, timestamp, exit_code, error, result, merge_result}. */
    static JsonObject eventResult(TaskEvent event) {
        JsonObject data = event.data();
        String state = data.getString("state", "").toLowerCase(Locale.ROOT);
        JsonObject out = new JsonObject()
                .put("task_id", event.taskId())
                .put("event", state)
                .put("status", state)
                .put("timestamp", event.ts())
                .put("seq", event.seq());
        for (String field : EVENT_FIELDS) out.put(field, data.getValue(field));
        if (out.getValue("error") == null && !"completed".equals(state)) out.put("error", data.getValue("reason"));
        if (data.getValue("reason") != null) out.put("reason", data.getValue("reason"));
        return out;
    }

    static boolean needsRecord(JsonObject eventResult) {
        return EVENT_FIELDS.stream().anyMatch(f -> eventResult.getValue(f) == null);
    }

    /** Fills fields the event left empty from the task record (the record is read, never trusted over the event). */
    static JsonObject fillFrom(JsonObject eventResult, JsonObject record) {
        for (String field : EVENT_FIELDS) {
            if (eventResult.getValue(field) == null && record.getValue(field) != null) {
                eventResult.put(field, record.getValue(field));
            }
        }
        for (String field : List.of("description", "repo", "usage")) {
            if (record.getValue(field) != null) eventResult.put(field, record.getValue(field));
        }
        return eventResult;
    }
}
