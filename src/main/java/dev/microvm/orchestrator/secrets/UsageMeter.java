package dev.microvm.orchestrator.secrets;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Reads the usage out of one Messages API response while it streams past, without holding the
 * stream back. For server-sent events it takes {@code message_start.message.usage} (input and
 * cache tokens, model) and the cumulative counts of the last {@code message_delta.usage}; for a
 * plain JSON response, the body's {@code usage}. Only a bounded amount is buffered: one SSE line,
 * or a JSON body up to {@link #MAX_JSON_BODY} bytes (a larger body is not metered).
 */
final class UsageMeter {

    static final int MAX_JSON_BODY = 8 * 1024 * 1024;
    private static final int MAX_SSE_LINE = 1024 * 1024;

    private final boolean sse;
    /** Bytes not yet parsed; split on '\n' bytes, which never occur inside a UTF-8 multi-byte character. */
    private Buffer pending = Buffer.buffer();
    private boolean overflow;
    private String model;
    private final long[] counts = new long[4]; // input, output, cache creation, cache read
    private boolean sawUsage;

    UsageMeter(String contentType) {
        this.sse = contentType != null && contentType.toLowerCase().startsWith("text/event-stream");
    }

    void accept(Buffer chunk) {
        if (overflow) return;
        pending.appendBuffer(chunk);
        if (sse) {
            int start = 0;
            for (int i = 0; i < pending.length(); i++) {
                if (pending.getByte(i) == '\n') {
                    onLine(pending.getString(start, i, "UTF-8"));
                    start = i + 1;
                }
            }
            pending = pending.getBuffer(start, pending.length());
            if (pending.length() > MAX_SSE_LINE) overflow = true;
        } else if (pending.length() > MAX_JSON_BODY) {
            overflow = true;
        }
    }

    /** The usage seen, once the response has ended; empty when the response carried none. */
    Optional<Usage> finish() {
        if (!overflow && pending.length() > 0) {
            String rest = pending.toString(StandardCharsets.UTF_8);
            if (sse) {
                onLine(rest);
            } else {
                JsonObject body = parse(rest.strip());
                if (body != null) {
                    model = body.getString("model", model);
                    take(body.getJsonObject("usage"));
                }
            }
        }
        if (!sawUsage) return Optional.empty();
        return Optional.of(new Usage(model, counts[0], counts[1], counts[2], counts[3]));
    }

    private void onLine(String raw) {
        String line = raw.strip();
        if (line.startsWith("data:")) onEvent(line.substring(5).strip());
    }

    private void onEvent(String data) {
        JsonObject event = parse(data);
        if (event == null) return;
        switch (event.getString("type", "")) {
            case "message_start" -> {
                JsonObject message = event.getJsonObject("message", new JsonObject());
                model = message.getString("model", model);
                take(message.getJsonObject("usage"));
            }
            case "message_delta" -> take(event.getJsonObject("usage"));
            default -> { }
        }
    }

    /** Usage fields are cumulative: a later report replaces an earlier one, field by field. */
    private void take(JsonObject usage) {
        if (usage == null) return;
        sawUsage = true;
        String[] names = {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"};
        for (int i = 0; i < names.length; i++) {
            Object v = usage.getValue(names[i]);
            if (v instanceof Number n) counts[i] = n.longValue();
        }
    }

    private static JsonObject parse(String s) {
        try {
            return s.startsWith("{") ? new JsonObject(s) : null;
        } catch (RuntimeException e) {
            return null;
        }
    }
}
