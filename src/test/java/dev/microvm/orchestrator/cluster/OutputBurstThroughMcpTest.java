package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.AccessToken;
import dev.microvm.orchestrator.testing.FreePorts;
import dev.microvm.orchestrator.testing.GitRepos;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An agent prints a burst of long lines (150 of 1,900 backslashes, then 150 of 1,900 quotes: as
 * Claude Code's stream-json does when a tool result holds a file). Through MCP, one process per
 * call, both that task's completion and the next task's reach wait_next_event, and a WebSocket
 * replay from 0 holds every task's whole lifecycle in order, with every line of the burst.
 */
class OutputBurstThroughMcpTest {

    @TempDir Path tmp;
    private StatePaths paths;
    private Vertx vertx;

    @AfterEach
    void tearDown() throws Exception {
        if (vertx != null) vertx.close();
        if (paths != null) DaemonEndpoint.find(paths).flatMap(e -> ProcessHandle.of(e.pid())).ifPresent(ProcessHandle::destroyForcibly);
    }

    @Test
    void aBurstOfLongLinesKeepsEveryLifecycleAndEveryLine() throws Exception {
        Path state = tmp.resolve("state");
        paths = new StatePaths(state);
        Path repo = GitRepos.create(tmp.resolve("repo"));
        int httpPort = FreePorts.distinct(1)[0];
        Files.createDirectories(state);
        Files.writeString(paths.configFile(), new JsonObject().put("driver", "process").put("slots", 1).put("http_port", httpPort)
                .put("guest_dir", tmp.resolve("no-guest").toString()).put("daemon_idle_exit_seconds", 30).encode());
        assertThat(Main.run("allow", repo.toString(), "--alias", "demo", "--state-dir", state.toString())).isZero();

        String burst = "for i in $(seq 150); do printf '%1900s\\n' '' | tr ' ' '\\\\'; done; "
                + "for i in $(seq 150); do printf '%1900s\\n' '' | tr ' ' '\"'; done; "
                + "echo burst > burst.txt && git add burst.txt && git commit -qm burst";
        String burstTask = call("run_task", new JsonObject().put("repo", "demo").put("description", "burst").put("agent_command", burst))
                .getString("task_id");
        awaitDaemon(); // the first call's process handed its task over
        String nextTask = call("run_task", new JsonObject().put("repo", "demo").put("description", "next")
                .put("agent_command", "echo next > next.txt && git add next.txt && git commit -qm next")).getString("task_id");

        List<String> delivered = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            JsonObject event = call("wait_next_event", new JsonObject().put("timeout_ms", 120_000));
            assertThat(event.getString("status")).as(event.encode()).isEqualTo("completed");
            delivered.add(event.getString("task_id"));
        }
        assertThat(delivered).containsExactly(burstTask, nextTask);

        List<JsonObject> replay = replayFromZero(httpPort, AccessToken.loadOrCreate(paths.httpTokenFile()).reveal());
        for (int i = 1; i < replay.size(); i++) {
            assertThat(replay.get(i).getLong("seq")).isGreaterThan(replay.get(i - 1).getLong("seq"));
        }
        Map<String, List<String>> states = new LinkedHashMap<>();
        for (JsonObject e : replay) {
            if ("task.state".equals(e.getString("type"))) {
                states.computeIfAbsent(e.getString("task_id"), k -> new ArrayList<>()).add(e.getJsonObject("data").getString("state").toLowerCase());
            }
        }
        for (String id : List.of(burstTask, nextTask)) {
            assertThat(states.get(id)).as(id + " in " + states).containsExactly("queued", "starting", "running", "merging", "completed");
        }
        List<String> lines = joinedConsoleLines(replay, burstTask);
        assertThat(lines.stream().filter(l -> l.equals("\\".repeat(1900))).count()).as("backslash lines").isEqualTo(150);
        assertThat(lines.stream().filter(l -> l.equals("\"".repeat(1900))).count()).as("quote lines").isEqualTo(150);
    }

    /** One MCP process for one call, as a one-shot client would: start, initialize, call, close. */
    private JsonObject call(String tool, JsonObject args) throws Exception {
        try (StdioMcpProcess p = StdioMcpProcess.start(paths.root(), "session-burst", tmp.resolve("mcp.log"))) {
            p.initialize();
            JsonObject result = p.call(tool, args, Duration.ofSeconds(150));
            assertThat(result.getBoolean("isError")).as(result.encode()).isFalse();
            return result.getJsonObject("structuredContent");
        }
    }

    private void awaitDaemon() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (DaemonEndpoint.find(paths).isEmpty()) {
            if (System.nanoTime() > deadline) throw new AssertionError("no daemon; mcp log: " + Files.readString(tmp.resolve("mcp.log")));
            Thread.sleep(100);
        }
    }

    /** Every event from seq 0 until the stream says it is live. */
    private List<JsonObject> replayFromZero(int port, String token) throws Exception {
        vertx = Vertx.vertx();
        List<JsonObject> events = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> live = new CompletableFuture<>();
        var client = vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(64 * 1024 * 1024).setMaxFrameSize(64 * 1024 * 1024));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) { // the daemon binds the port a moment after it starts
            try {
                var ws = client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/events?since=0")
                        .addHeader("Authorization", "Bearer " + token)).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
                ws.textMessageHandler(text -> {
                    JsonObject frame = new JsonObject(text);
                    if ("events".equals(frame.getString("type"))) frame.getJsonArray("events").forEach(e -> events.add((JsonObject) e));
                    if ("live".equals(frame.getString("type"))) live.complete(null);
                });
                break;
            } catch (Exception e) {
                if (System.nanoTime() > deadline) throw e;
                Thread.sleep(200);
            }
        }
        live.get(60, TimeUnit.SECONDS);
        client.close();
        return List.copyOf(events);
    }

    /** The task's console entries, joined back into lines where an entry says it continues. */
    private static List<String> joinedConsoleLines(List<JsonObject> events, String taskId) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (JsonObject e : events) {
            if (!"task.log".equals(e.getString("type")) || !taskId.equals(e.getString("task_id"))) continue;
            JsonArray entries = e.getJsonObject("data").getJsonArray("lines");
            JsonArray continues = Optional.ofNullable(e.getJsonObject("data").getJsonArray("continues")).orElse(new JsonArray());
            for (int i = 0; i < entries.size(); i++) {
                current.append(entries.getString(i));
                if (!continues.contains(i)) {
                    out.add(current.toString());
                    current.setLength(0);
                }
            }
        }
        return out;
    }
}
