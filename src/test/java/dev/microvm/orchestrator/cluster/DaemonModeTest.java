package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real {@code serve} daemon and real {@code mcp} stdio processes in separate JVMs: the MCP
 * processes attach to the daemon, share its tasks and events, fail fast when it dies and fall
 * back to an embedded node when no daemon is left.
 */
class DaemonModeTest {

    @TempDir Path tmp;
    private final List<AutoCloseable> open = new ArrayList<>();
    private Process daemon;

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : open.reversed()) c.close();
        if (daemon != null && daemon.isAlive()) daemon.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    @Test
    void twoMcpSessionsShareOneDaemonAndFallBackToEmbeddedWhenItDies() throws Exception {
        Path state = tmp.resolve("state");
        Path repo = GitRepos.create(tmp.resolve("repo"));
        StatePaths paths = new StatePaths(state);
        Files.createDirectories(state);
        // a guest image that loads but cannot boot: tasks are accepted and routed, then fail at boot; that is enough to see who ran them
        Files.writeString(paths.configFile(), new JsonObject().put("slots", 1).put("http_port", 0)
                .put("guest_dir", unbootableGuest(tmp.resolve("guest")).toString()).put("accelerator", "tcg").encode());
        assertThat(Main.run("allow", repo.toString(), "--alias", "demo", "--state-dir", state.toString())).isZero();

        daemon = JavaProcess.builder(Main.class, "serve", "--state-dir", state.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("daemon.log").toFile()).start();
        DaemonEndpoint endpoint = awaitEndpoint(paths, Duration.ofSeconds(60));
        assertThat(endpoint.pid()).isEqualTo(daemon.pid());

        StdioMcpProcess a = track(StdioMcpProcess.start(state, "session-a", tmp.resolve("mcp-a.log")));
        StdioMcpProcess b = track(StdioMcpProcess.start(state, "session-b", tmp.resolve("mcp-b.log")));
        a.initialize();
        b.initialize();

        JsonObject started = a.call("run_task", new JsonObject().put("repo", "demo").put("description", "say hello")
                .put("agent_command", "true"));
        assertThat(started.getBoolean("isError")).as(started.encode()).isFalse();
        String taskId = started.getJsonObject("structuredContent").getString("task_id");

        // session B sees session A's task, and the daemon (not an MCP process) is the node that owns it
        JsonArray tasks = b.call("list_tasks", new JsonObject()).getJsonObject("structuredContent").getJsonArray("tasks");
        JsonObject seen = tasks.stream().map(JsonObject.class::cast).filter(t -> taskId.equals(t.getString("task_id"))).findFirst().orElseThrow();
        assertThat(seen.getString("node")).as(Files.readString(tmp.resolve("mcp-a.log"))).endsWith("-" + daemon.pid());

        // session A is told when its task finished, through the daemon's relayed events
        JsonObject event = a.call("wait_next_event", new JsonObject().put("timeout_ms", 60_000), Duration.ofSeconds(90))
                .getJsonObject("structuredContent");
        assertThat(event.encode()).contains(taskId).contains("failed");
        assertThat(Files.readString(tmp.resolve("mcp-a.log"))).contains("attached to daemon");

        // the daemon dies: an attached session's requests fail at once instead of hanging
        daemon.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        JsonObject failed = b.call("list_tasks", new JsonObject(), Duration.ofSeconds(10));
        assertThat(failed.getBoolean("isError")).isTrue();
        assertThat(failed.encode()).contains("daemon");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(5_000);

        // a new session finds only a stale endpoint and runs its own embedded node, which still knows the task
        StdioMcpProcess c = track(StdioMcpProcess.start(state, "session-c", tmp.resolve("mcp-c.log")));
        c.initialize();
        JsonArray after = c.call("list_tasks", new JsonObject()).getJsonObject("structuredContent").getJsonArray("tasks");
        assertThat(after.encode()).contains(taskId);
        assertThat(Files.readString(tmp.resolve("mcp-c.log"))).doesNotContain("attached to daemon");
    }

    /** A manifest that loads (so the node's driver is healthy) naming a kernel QEMU refuses at once. */
    private static Path unbootableGuest(Path dir) throws Exception {
        Files.createDirectories(dir);
        Files.write(dir.resolve("vmlinux"), new byte[4096]);
        Files.write(dir.resolve("initrd.cpio.gz"), new byte[4096]);
        Files.writeString(dir.resolve("mvo-image.json"), new JsonObject().put("manifest_version", 1).put("image_version", "unbootable")
                .put("architecture", "x86_64").put("kernel", "vmlinux").put("initrd", "initrd.cpio.gz").put("cmdline", "panic=-1")
                .put("console", "ttyS0").put("disks", new JsonArray())
                .put("agent_user", new JsonObject().put("name", "agent").put("uid", 1000).put("gid", 1000).put("home", "/home/agent"))
                .put("agents", new JsonArray()).encode());
        return dir;
    }

    @Test
    void theDaemonChannelAdmitsOnlyClientsWithTheToken() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Vertx vertx = Vertx.vertx();
        open.add(() -> vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS));
        vertx.eventBus().<JsonObject>consumer(dev.microvm.orchestrator.node.Addresses.TASK_LIST, m -> m.reply(new JsonObject().put("tasks", new JsonArray())));
        DaemonChannelVerticle channel = new DaemonChannelVerticle(paths, "node-x");
        vertx.deployVerticle(channel).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(Files.getPosixFilePermissions(DaemonEndpoint.tokenFile(paths))).hasSize(2); // rw-------

        String good = DaemonEndpoint.token(paths).reveal();
        assertThat(exchange(vertx, channel.port(), new JsonObject().put("type", "hello").put("token", "0".repeat(64))))
                .as("wrong token").isEmpty();
        assertThat(exchange(vertx, channel.port(), new JsonObject().put("type", "request").put("id", 1)
                .put("address", dev.microvm.orchestrator.node.Addresses.TASK_LIST).put("body", new JsonObject())))
                .as("request without hello").isEmpty();
        assertThat(exchange(vertx, channel.port(), new JsonObject().put("type", "hello").put("token", good)))
                .hasValueSatisfying(reply -> assertThat(reply).contains("welcome").contains("node-x"));
    }

    @Test
    void aForwardedRequestWhoseBodyIsNotAnObjectIsAnsweredWithAFailure() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Vertx vertx = Vertx.vertx();
        open.add(() -> vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS));
        DaemonChannelVerticle channel = new DaemonChannelVerticle(paths, "node-x");
        vertx.deployVerticle(channel).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        CompletableFuture<String> answered = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        NetSocket socket = vertx.createNetClient().connect(channel.port(), "127.0.0.1").toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        socket.handler(buf -> {
            text.append(buf.toString());
            if (text.chars().filter(c -> c == '\n').count() >= 2) answered.complete(text.toString());
        });
        socket.write(new JsonObject().put("type", "hello").put("token", DaemonEndpoint.token(paths).reveal()).encode() + "\n"
                + new JsonObject().put("type", "request").put("id", 7).put("address", dev.microvm.orchestrator.node.Addresses.TASK_LIST)
                        .put("body", "not an object").encode() + "\n");
        JsonObject reply = new JsonObject(answered.get(5, TimeUnit.SECONDS).split("\n")[1]);
        socket.close();
        assertThat(reply.getString("type")).isEqualTo("fail");
        assertThat(reply.getInteger("id")).isEqualTo(7);
        assertThat(reply.getInteger("code")).isEqualTo(400);
    }

    /** Sends one frame; returns what came back before the server closed the connection (empty: nothing). */
    private static Optional<String> exchange(Vertx vertx, int port, JsonObject frame) throws Exception {
        CompletableFuture<String> received = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        NetSocket socket = vertx.createNetClient().connect(port, "127.0.0.1").toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        socket.handler(buf -> {
            text.append(buf.toString());
            if (text.indexOf("\n") >= 0) received.complete(text.toString());
        });
        socket.closeHandler(v -> received.complete(text.toString()));
        socket.write(frame.encode() + "\n");
        String got = received.get(5, TimeUnit.SECONDS);
        socket.close();
        return got.isEmpty() ? Optional.empty() : Optional.of(got);
    }

    private StdioMcpProcess track(StdioMcpProcess p) {
        open.add(p);
        return p;
    }

    private static DaemonEndpoint awaitEndpoint(StatePaths paths, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<DaemonEndpoint> e = DaemonEndpoint.find(paths);
            if (e.isPresent()) return e.get();
            Thread.sleep(100);
        }
        throw new AssertionError("the daemon published no endpoint within " + timeout);
    }
}
