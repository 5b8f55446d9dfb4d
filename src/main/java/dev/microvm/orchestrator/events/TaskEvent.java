package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonObject;

/**
 * One entry of the event log, as it is stored, published on the event bus and sent to WebSocket
 * clients: {@code {"seq":N,"ts":"...","type":"task.state","task_id":"...","data":{...}}}.
 */
public record TaskEvent(long seq, String ts, String type, String taskId, JsonObject data) {

    public JsonObject toJson() {
        JsonObject json = new JsonObject().put("seq", seq).put("ts", ts).put("type", type);
        if (taskId != null) json.put("task_id", taskId);
        return json.put("data", data);
    }

    public static TaskEvent fromJson(JsonObject json) {
        return new TaskEvent(json.getLong("seq"), json.getString("ts"), json.getString("type"),
                json.getString("task_id"), json.getJsonObject("data", new JsonObject()));
    }
}
