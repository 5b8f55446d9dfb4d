package dev.microvm.orchestrator.stream;

import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A WebSocket client of the event stream that records every frame and event it receives. */
final class StreamClient implements AutoCloseable {

    final List<JsonObject> frames = new CopyOnWriteArrayList<>();
    final List<JsonObject> events = new CopyOnWriteArrayList<>();
    volatile boolean closed;
    private final WebSocketClient client;
    final WebSocket ws;

    private StreamClient(WebSocketClient client, WebSocket ws) {
        this.client = client;
        this.ws = ws;
    }

    static StreamClient connect(Vertx vertx, StreamServer server, String query) {
        WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(16 * 1024 * 1024));
        WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("localhost").setPort(server.port())
                .setURI("/events" + (query.isEmpty() ? "" : "?" + query))
                .addHeader("Authorization", "Bearer " + server.token());
        StreamClient[] holder = new StreamClient[1];
        // handlers are set in the completion callback, on the event loop, so no early frame is missed
        StreamServer.await(client.connect(options).map(ws -> {
            StreamClient c = new StreamClient(client, ws);
            ws.textMessageHandler(text -> {
                JsonObject frame = new JsonObject(text);
                if ("events".equals(frame.getString("type"))) {
                    frame.getJsonArray("events").forEach(e -> c.events.add((JsonObject) e));
                }
                c.frames.add(frame);
            });
            ws.closeHandler(v -> c.closed = true);
            holder[0] = c;
            return ws;
        }));
        StreamClient c = holder[0];
        return c;
    }

    static StreamClient connectLive(Vertx vertx, StreamServer server, String query) {
        StreamClient c = connect(vertx, server, query);
        c.awaitFrame(f -> "live".equals(f.getString("type")));
        return c;
    }

    JsonObject awaitFrame(Predicate<JsonObject> p) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            for (JsonObject f : frames) if (p.test(f)) return f;
            sleep();
        }
        throw new AssertionError("no matching frame within 20 s; frames: " + abbreviated());
    }

    void awaitEventSeq(long seq) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!events.isEmpty() && events.get(events.size() - 1).getLong("seq") >= seq) return;
            sleep();
        }
        throw new AssertionError("event " + seq + " not received within 30 s; got " + events.size() + " events");
    }

    List<Long> seqs() {
        List<Long> out = new ArrayList<>();
        for (JsonObject e : events) out.add(e.getLong("seq"));
        return out;
    }

    private String abbreviated() {
        String s = frames.toString();
        return s.length() > 500 ? s.substring(0, 500) + "..." : s;
    }

    private static void sleep() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    @Override
    public void close() {
        StreamServer.await(client.close());
    }
}
