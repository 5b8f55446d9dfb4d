package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;

/**
 * A running EventStreamVerticle on a free loopback port over a fresh state directory, plus the
 * producer side the node will have: events appended to the real log, then published.
 */
final class StreamServer implements AutoCloseable {

    final Vertx vertx;
    final StatePaths paths;
    final EventLog log;
    EventStreamVerticle verticle;
    private String deploymentId;

    private StreamServer(Vertx vertx, StatePaths paths, EventStreamVerticle verticle, String deploymentId) {
        this.vertx = vertx;
        this.paths = paths;
        this.log = new EventLog(paths.eventLog(), Clock.systemUTC());
        this.verticle = verticle;
        this.deploymentId = deploymentId;
    }

    static StreamServer start(Path stateDir) {
        return start(stateDir, EventStreamOptions.loopback(0));
    }

    static StreamServer start(Path stateDir, EventStreamOptions options) {
        Vertx vertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(EventStreamVerticle.metricsOptions())).build();
        return startOn(vertx, stateDir, options);
    }

    static StreamServer startOn(Vertx vertx, Path stateDir, EventStreamOptions options) {
        StatePaths paths = new StatePaths(stateDir);
        EventStreamVerticle verticle = new EventStreamVerticle(options, paths);
        String id = await(vertx.deployVerticle(verticle));
        return new StreamServer(vertx, paths, verticle, id);
    }

    /** Stops serving: every connection drops, as when the process that served ends. */
    void stopServing() {
        await(vertx.undeploy(deploymentId));
    }

    /** Serves again on the same port and state directory. */
    void serveAgain(int port) {
        verticle = new EventStreamVerticle(EventStreamOptions.loopback(port), paths);
        deploymentId = await(vertx.deployVerticle(verticle));
    }

    int port() {
        return verticle.port();
    }

    String token() {
        try {
            return Files.readString(paths.httpTokenFile()).strip();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** What the node does for every event: append durably, then publish. */
    TaskEvent emit(String type, String taskId, JsonObject data) {
        TaskEvent e = log.append(type, taskId, data);
        vertx.eventBus().publish(Addresses.EVENTS, e.toJson());
        return e;
    }

    /** Sends a raw HTTP/1.1 request (any Host or Origin) and returns the whole response as text. */
    String raw(String requestHead) {
        try (Socket s = new Socket("127.0.0.1", port())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(requestHead.replace("\n", "\r\n").concat("\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[65536];
            StringBuilder sb = new StringBuilder();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadline) {
                int n;
                try {
                    n = in.read(buf);
                } catch (java.net.SocketTimeoutException e) {
                    break;
                }
                if (n < 0) break;
                sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                if (isComplete(sb)) break;
            }
            return sb.toString();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static int status(String response) {
        return Integer.parseInt(response.substring(9, 12));
    }

    private static boolean isComplete(StringBuilder sb) {
        int head = sb.indexOf("\r\n\r\n");
        if (head < 0) return false;
        String headers = sb.substring(0, head).toLowerCase();
        if (headers.startsWith("http/1.1 101")) return true;
        int cl = headers.indexOf("content-length:");
        if (cl < 0) return headers.contains("transfer-encoding: chunked") ? sb.toString().endsWith("0\r\n\r\n") : true;
        int end = headers.indexOf("\r\n", cl);
        int len = Integer.parseInt(headers.substring(cl + 15, end < 0 ? headers.length() : end).strip());
        return sb.length() >= head + 4 + len;
    }

    static <T> T await(Future<T> f) {
        try {
            return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    @Override
    public void close() {
        await(vertx.close());
    }
}
