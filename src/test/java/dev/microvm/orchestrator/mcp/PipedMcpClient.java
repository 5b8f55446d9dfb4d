package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A line-level JSON-RPC client on pipes, for driving the server in-process: it can send what a
 * well-behaved SDK client never would (malformed lines, cancellations), and it records every
 * line the server writes.
 */
final class PipedMcpClient implements AutoCloseable {

    final PipedInputStream serverIn = new PipedInputStream(1 << 20);
    final PipedOutputStream serverOut = new PipedOutputStream();
    private final OutputStream toServer;
    private final PipedInputStream fromServer = new PipedInputStream(1 << 20);
    private final LinkedBlockingQueue<JsonObject> inbox = new LinkedBlockingQueue<>();
    final List<String> rawLines = new CopyOnWriteArrayList<>();
    final List<JsonObject> notifications = new CopyOnWriteArrayList<>();
    private final AtomicInteger ids = new AtomicInteger();
    private final java.util.Map<String, JsonObject> unclaimed = new java.util.concurrent.ConcurrentHashMap<>();

    PipedMcpClient() throws IOException {
        toServer = new PipedOutputStream(serverIn);
        fromServer.connect(serverOut);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(fromServer, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    rawLines.add(line);
                    JsonObject msg = new JsonObject(line);
                    if (msg.containsKey("method") && !msg.containsKey("id")) notifications.add(msg);
                    inbox.add(msg);
                }
            } catch (IOException e) {
                // pipe closed
            }
        }, "piped-mcp-client");
        reader.setDaemon(true);
        reader.start();
    }

    synchronized void sendLine(String line) throws IOException {
        toServer.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        toServer.flush();
    }

    int send(String method, JsonObject params) throws IOException {
        int id = ids.incrementAndGet();
        sendLine(new JsonObject().put("jsonrpc", "2.0").put("id", id).put("method", method).put("params", params).encode());
        return id;
    }

    void notify(String method, JsonObject params) throws IOException {
        sendLine(new JsonObject().put("jsonrpc", "2.0").put("method", method).put("params", params).encode());
    }

    JsonObject request(String method, JsonObject params) throws Exception {
        return awaitResponse(send(method, params), Duration.ofSeconds(20));
    }

    JsonObject awaitResponse(Object id, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonObject earlier = unclaimed.remove(String.valueOf(id));
        if (earlier != null) return earlier;
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new AssertionError("no response to request " + id + " within " + timeout + "; got " + rawLines);
            JsonObject msg = inbox.poll(left, TimeUnit.NANOSECONDS);
            if (msg == null) continue;
            if (msg.containsKey("id") && java.util.Objects.equals(String.valueOf(msg.getValue("id")), String.valueOf(id))
                    && (msg.containsKey("result") || msg.containsKey("error"))) {
                return msg;
            }
            if (msg.containsKey("id") && (msg.containsKey("result") || msg.containsKey("error"))) {
                unclaimed.put(String.valueOf(msg.getValue("id")), msg);
            }
        }
    }

    void initialize() throws Exception {
        JsonObject reply = request("initialize", new JsonObject().put("protocolVersion", "2025-06-18")
                .put("capabilities", new JsonObject()).put("clientInfo", new JsonObject().put("name", "piped-test").put("version", "1")));
        if (!reply.containsKey("result")) throw new AssertionError("initialize failed: " + reply);
        notify("notifications/initialized", new JsonObject());
    }

    /** tools/call → the result object (structuredContent, isError, content). */
    JsonObject callTool(String name, JsonObject arguments) throws Exception {
        JsonObject reply = request("tools/call", new JsonObject().put("name", name).put("arguments", arguments));
        if (!reply.containsKey("result")) throw new AssertionError("tools/call " + name + " failed: " + reply);
        return reply.getJsonObject("result");
    }

    void closeInput() throws IOException {
        toServer.close();
    }

    @Override
    public void close() throws IOException {
        toServer.close();
        fromServer.close();
    }
}
