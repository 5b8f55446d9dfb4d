package dev.microvm.orchestrator.e2e;

import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Listens to a server's WebSocket event stream from the start ({@code since=0}), once the server
 * has printed its dashboard link (with the access token) on stderr. Every frame is kept.
 */
final class EventStreamTap implements AutoCloseable {
    private static final Pattern LINK = Pattern.compile("dashboard: http://localhost:(\\d+)/\\?token=(\\S+)");

    final List<String> frames = new CopyOnWriteArrayList<>();
    private Vertx vertx;

    /** Connects if the link is in {@code stderr} by now; true once connected. Call it until it is. */
    boolean tryConnect(Path stderr) throws Exception {
        if (vertx != null) return true;
        if (!Files.exists(stderr)) return false;
        Matcher m = LINK.matcher(Files.readString(stderr));
        if (!m.find()) return false;
        vertx = Vertx.vertx();
        WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(16 * 1024 * 1024));
        client.connect(new WebSocketConnectOptions().setHost("localhost").setPort(Integer.parseInt(m.group(1)))
                        .setURI("/events?since=0").addHeader("Authorization", "Bearer " + m.group(2)))
                .onSuccess(ws -> ws.textMessageHandler(frames::add))
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return true;
    }

    String text() {
        return String.join("\n", frames);
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        if (vertx != null) vertx.close();
    }
}
