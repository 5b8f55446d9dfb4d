package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts Vert.x JSON values to plain maps and lists, which the SDK's own Jackson mapper can write. */
final class PlainJson {

    private PlainJson() {}

    static Map<String, Object> toMap(JsonObject json) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : json) out.put(e.getKey(), plain(e.getValue()));
        return out;
    }

    static JsonObject fromMap(Map<String, Object> map) {
        return map == null ? new JsonObject() : (JsonObject) vertx(map);
    }

    @SuppressWarnings("unchecked")
    private static Object vertx(Object value) {
        if (value instanceof Map<?, ?> m) {
            JsonObject o = new JsonObject();
            ((Map<String, Object>) m).forEach((k, v) -> o.put(k, vertx(v)));
            return o;
        }
        if (value instanceof List<?> l) {
            JsonArray a = new JsonArray();
            l.forEach(v -> a.add(vertx(v)));
            return a;
        }
        return value;
    }

    private static Object plain(Object value) {
        if (value instanceof JsonObject o) return toMap(o);
        if (value instanceof Map<?, ?> m) return toMap(new JsonObject(castMap(m)));
        if (value instanceof JsonArray a) {
            List<Object> list = new ArrayList<>(a.size());
            for (Object v : a) list.add(plain(v));
            return list;
        }
        if (value instanceof List<?> l) return plain(new JsonArray(new ArrayList<>(l)));
        return value;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }
}
