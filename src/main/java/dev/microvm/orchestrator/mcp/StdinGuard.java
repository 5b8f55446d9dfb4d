package dev.microvm.orchestrator.mcp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Stands between the real stdin and the SDK's stdio transport, one JSON-RPC line at a time, to add
 * what SDK 2.1.0 lacks:
 * <ul>
 *   <li>a malformed line is answered with a JSON-RPC parse error (-32700) or invalid request
 *       (-32600) and dropped, because the SDK would stop reading altogether;</li>
 *   <li>{@code notifications/cancelled} is handed to {@code onCancelled} (the SDK ignores it);</li>
 *   <li>each {@code tools/call} gets its JSON-RPC id copied into {@code params._meta} under
 *       {@link #REQUEST_ID_META}, so a tool handler knows which request a later cancellation
 *       names;</li>
 *   <li>end of input calls {@code onEof} once, because the SDK keeps the process alive.</li>
 * </ul>
 * Runs on the SDK's single stdin reader thread.
 */
final class StdinGuard extends InputStream {

    static final String REQUEST_ID_META = "dev.microvm.orchestrator/request_id";
    static final int MAX_LINE_BYTES = 16 * 1024 * 1024;

    private static final Logger log = LoggerFactory.getLogger(StdinGuard.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final InputStream in;
    private final StdoutLines out;
    private final Consumer<String> onCancelled;
    private final Runnable onEof;
    private final AtomicBoolean eofSignalled = new AtomicBoolean();
    private byte[] current = new byte[0];
    private int position;

    /**
     * @param onCancelled receives the cancelled request's id as canonical JSON text ({@code 7}, {@code "abc"})
     */
    StdinGuard(InputStream in, StdoutLines out, Consumer<String> onCancelled, Runnable onEof) {
        this.in = in instanceof java.io.BufferedInputStream ? in : new java.io.BufferedInputStream(in, 64 * 1024);
        this.out = out;
        this.onCancelled = onCancelled;
        this.onEof = onEof;
    }

    @Override
    public int read() throws IOException {
        if (!fill()) return -1;
        return current[position++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (!fill()) return -1;
        int n = Math.min(len, current.length - position);
        System.arraycopy(current, position, b, off, n);
        position += n;
        return n;
    }

    @Override
    public int available() {
        return current.length - position;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    /** Makes sure unread bytes are buffered; false at end of input. */
    private boolean fill() throws IOException {
        while (position >= current.length) {
            RawLine raw = readRawLine();
            if (raw == null) {
                if (eofSignalled.compareAndSet(false, true)) onEof.run();
                return false;
            }
            String accepted = raw.tooLong() ? reject(null, -32700, "Parse error: message exceeds " + MAX_LINE_BYTES + " bytes") : screen(raw.text());
            if (accepted != null) {
                current = (accepted + "\n").getBytes(StandardCharsets.UTF_8);
                position = 0;
            }
        }
        return true;
    }

    /** Returns the line to pass on to the SDK, or null when it was consumed here. */
    String screen(String line) throws IOException {
        if (line.isBlank()) return null;
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            return reject(null, -32700, "Parse error: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            return reject(null, -32600, node != null && node.isArray()
                    ? "Invalid Request: batches are not supported" : "Invalid Request: expected a JSON object");
        }
        JsonNode id = node.get("id");
        JsonNode method = node.get("method");
        if (method == null) {
            if (id != null && (node.has("result") || node.has("error"))) return line;
            return reject(id, -32600, "Invalid Request: no method");
        }
        if (!method.isTextual()) return reject(id, -32600, "Invalid Request: method must be a string");
        if (id != null && !(id.isTextual() || id.isIntegralNumber())) {
            return reject(null, -32600, "Invalid Request: id must be a string or an integer");
        }
        JsonNode params = node.get("params");
        if (params != null && !params.isObject() && !params.isNull()) {
            return reject(id, -32602, "Invalid params: params must be an object");
        }
        switch (method.textValue()) {
            case "notifications/cancelled" -> {
                JsonNode requestId = params == null ? null : params.get("requestId");
                if (requestId != null && !requestId.isNull()) onCancelled.accept(requestId.toString());
                return null;
            }
            case "tools/call" -> {
                if (id == null) return line;
                ObjectNode p = params instanceof ObjectNode o ? o : ((ObjectNode) node).putObject("params");
                JsonNode meta = p.get("_meta");
                ObjectNode m = meta instanceof ObjectNode o ? o : p.putObject("_meta");
                m.put(REQUEST_ID_META, id.toString());
                return JSON.writeValueAsString(node);
            }
            default -> {
                return line;
            }
        }
    }

    private String reject(JsonNode id, int code, String message) throws IOException {
        log.warn("rejected inbound MCP line: {}", message);
        ObjectNode error = JSON.createObjectNode();
        error.put("jsonrpc", "2.0");
        if (id == null || !(id.isTextual() || id.isIntegralNumber())) error.putNull("id");
        else error.set("id", id);
        error.putObject("error").put("code", code).put("message", message);
        out.writeLine(JSON.writeValueAsString(error));
        return null;
    }

    private record RawLine(String text, boolean tooLong) {}

    /** Reads up to and including the next '\n'; null at end of input with nothing read. */
    private RawLine readRawLine() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        boolean tooLong = false;
        boolean any = false;
        int b;
        while ((b = in.read()) != -1) {
            any = true;
            if (b == '\n') break;
            if (buf.size() < MAX_LINE_BYTES) buf.write(b);
            else tooLong = true;
        }
        if (!any) return null;
        String text = buf.toString(StandardCharsets.UTF_8);
        if (text.endsWith("\r")) text = text.substring(0, text.length() - 1);
        return new RawLine(text, tooLong);
    }
}
