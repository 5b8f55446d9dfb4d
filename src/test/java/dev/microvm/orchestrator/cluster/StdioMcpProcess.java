package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A real {@code microvm-orchestrator mcp} child process driven over its stdin and stdout. */
final class StdioMcpProcess implements AutoCloseable {

    final Process process;
    final long startedNanos = System.nanoTime();
    private final OutputStream toServer;
    private final LinkedBlockingQueue<JsonObject> inbox = new LinkedBlockingQueue<>();
    private final AtomicInteger ids = new AtomicInteger();

    private StdioMcpProcess(Process process) {
        this.process = process;
        this.toServer = process.getOutputStream();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) inbox.add(new JsonObject(line));
            } catch (IOException | RuntimeException e) {
                // process ended
            }
        }, "stdio-mcp-reader");
        reader.setDaemon(true);
        reader.start();
    }

    static StdioMcpProcess start(Path stateDir, String session, Path stderr) throws IOException {
        ProcessBuilder pb = JavaProcess.builder(Main.class, "mcp", "--state-dir", stateDir.toString());
        pb.environment().put("CLAUDE_CODE_SESSION_ID", session);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()));
        return new StdioMcpProcess(pb.start());
    }

    JsonObject request(String method, JsonObject params, Duration timeout) throws Exception {
        int id = ids.incrementAndGet();
        synchronized (this) {
            toServer.write((new JsonObject().put("jsonrpc", "2.0").put("id", id).put("method", method).put("params", params).encode() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            toServer.flush();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new AssertionError("no reply to " + method + " within " + timeout);
            JsonObject msg = inbox.poll(left, TimeUnit.NANOSECONDS);
            if (msg != null && Integer.valueOf(id).equals(msg.getValue("id") instanceof Number n ? n.intValue() : null)) return msg;
        }
    }

    /** Sends initialize and returns the milliseconds from process start to the reply. */
    long initialize() throws Exception {
        JsonObject reply = request("initialize", new JsonObject().put("protocolVersion", "2025-06-18").put("capabilities", new JsonObject())
                .put("clientInfo", new JsonObject().put("name", "cluster-test").put("version", "1")), Duration.ofSeconds(60));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
        if (!reply.containsKey("result")) throw new AssertionError("initialize failed: " + reply);
        synchronized (this) {
            toServer.write("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n".getBytes(StandardCharsets.UTF_8));
            toServer.flush();
        }
        return ms;
    }

    /** tools/call → its result (structuredContent, isError). */
    JsonObject call(String tool, JsonObject args, Duration timeout) throws Exception {
        JsonObject reply = request("tools/call", new JsonObject().put("name", tool).put("arguments", args), timeout);
        if (!reply.containsKey("result")) throw new AssertionError("tools/call " + tool + " failed: " + reply);
        return reply.getJsonObject("result");
    }

    JsonObject call(String tool, JsonObject args) throws Exception {
        return call(tool, args, Duration.ofSeconds(60));
    }

    @Override
    public void close() throws Exception {
        try {
            toServer.close();
        } catch (IOException ignored) {
            // already gone
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
}
