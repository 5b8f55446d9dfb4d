package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client that calls run_task and goes away at once (a one-shot script, a Claude Code session
 * closed right after): with no daemon running, the stdio process hands its unfinished task to a
 * daemon it starts, the task completes and merges with no client attached, and the caller's next
 * MCP process receives the task's event. Both ways a client ends its server: closing stdin, and
 * Claude Code's SIGINT, SIGTERM 100 ms later, SIGKILL 0.5 s after that.
 */
class OneShotClientTest {

    @TempDir Path tmp;
    private Path state;
    private StatePaths paths;
    private Path repo;

    @BeforeEach
    void setUp() throws Exception {
        state = tmp.resolve("state");
        paths = new StatePaths(state);
        repo = GitRepos.create(tmp.resolve("repo"));
        Files.createDirectories(state);
        Files.writeString(paths.configFile(), new JsonObject().put("driver", "process").put("slots", 1).put("http_port", 0)
                .put("guest_dir", tmp.resolve("no-guest").toString()).put("daemon_idle_exit_seconds", 3).encode());
        assertThat(Main.run("allow", repo.toString(), "--alias", "demo", "--state-dir", state.toString())).isZero();
    }

    @AfterEach
    void stopDaemon() throws Exception {
        Optional<DaemonEndpoint> daemon = DaemonEndpoint.find(paths);
        if (daemon.isPresent()) ProcessHandle.of(daemon.get().pid()).ifPresent(ProcessHandle::destroyForcibly);
    }

    private String runTaskAndKeepId(StdioMcpProcess client, String file) throws Exception {
        client.initialize();
        // the agent waits a little, so the task is surely unfinished when its client goes
        JsonObject started = client.call("run_task", new JsonObject().put("repo", "demo").put("description", "one shot")
                .put("agent_command", "sleep 2; echo done > " + file + " && git add " + file + " && git commit -qm 'one shot " + file + "'"));
        assertThat(started.getBoolean("isError")).as(started.encode()).isFalse();
        return started.getJsonObject("structuredContent").getString("task_id");
    }

    @Test
    void closingStdinRightAfterRunTaskLeavesTheTaskToADaemonThatFinishesIt() throws Exception {
        assertThat(DaemonEndpoint.find(paths)).isEmpty();
        StdioMcpProcess client = StdioMcpProcess.start(state, "session-oneshot", tmp.resolve("mcp-1.log"));
        String taskId = runTaskAndKeepId(client, "eof.txt");
        client.process.getOutputStream().close();
        assertThat(client.process.waitFor(15, TimeUnit.SECONDS)).as("the stdio process exits").isTrue();
        assertThat(Files.readString(tmp.resolve("mcp-1.log"))).contains("handed to a daemon");

        assertCompletedAndDelivered(taskId, "eof.txt");
    }

    @Test
    void claudeCodesSignalSequenceLeavesTheTaskToADaemonThatFinishesIt() throws Exception {
        StdioMcpProcess client = StdioMcpProcess.start(state, "session-oneshot", tmp.resolve("mcp-2.log"));
        String taskId = runTaskAndKeepId(client, "signals.txt");
        long pid = client.process.pid();
        signal("INT", pid);
        Thread.sleep(100);
        signal("TERM", pid);
        Thread.sleep(500);
        if (client.process.isAlive()) signal("KILL", pid);
        assertThat(client.process.waitFor(10, TimeUnit.SECONDS)).isTrue();

        assertCompletedAndDelivered(taskId, "signals.txt");
    }

    private void assertCompletedAndDelivered(String taskId, String file) throws Exception {
        DaemonEndpoint daemon = awaitDaemon();
        TaskRecord done = awaitTerminal(taskId, Duration.ofSeconds(120));
        assertThat(done.state()).as(done.toJson().encodePrettily()).isEqualTo(TaskState.COMPLETED);
        assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "main")).isEqualTo("one shot " + file);

        // the same caller's next MCP process is told, and it attaches to the daemon rather than running a node
        try (StdioMcpProcess next = StdioMcpProcess.start(state, "session-oneshot", tmp.resolve("mcp-next.log"))) {
            next.initialize();
            JsonObject event = next.call("wait_next_event", new JsonObject().put("timeout_ms", 30_000), Duration.ofSeconds(60))
                    .getJsonObject("structuredContent");
            assertThat(event.getString("task_id")).as(event.encode()).isEqualTo(taskId);
            assertThat(event.getString("status")).isEqualTo("completed");
        }
        assertThat(Files.readString(tmp.resolve("mcp-next.log"))).contains("attached to daemon");

        // started for a client, the daemon ends by itself once it has no task and no client
        ProcessHandle handle = ProcessHandle.of(daemon.pid()).orElseThrow();
        handle.onExit().get(60, TimeUnit.SECONDS);
        assertThat(DaemonEndpoint.find(paths)).isEmpty();
    }

    private DaemonEndpoint awaitDaemon() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<DaemonEndpoint> e = DaemonEndpoint.find(paths);
            if (e.isPresent()) return e.get();
            Thread.sleep(100);
        }
        throw new AssertionError("no daemon was started; its log: " + readOrEmpty(DaemonEndpoint.directory(paths).resolve("daemon.log")));
    }

    private TaskRecord awaitTerminal(String taskId, Duration timeout) throws Exception {
        TaskStore store = new TaskStore(paths);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            TaskRecord r = store.load(taskId).orElseThrow();
            if (r.state().isTerminal()) return r;
            if (System.nanoTime() > deadline) {
                throw new AssertionError("task " + taskId + " still " + r.state() + "; daemon log: "
                        + readOrEmpty(DaemonEndpoint.directory(paths).resolve("daemon.log")));
            }
            Thread.sleep(200);
        }
    }

    private static String readOrEmpty(Path file) throws Exception {
        return Files.exists(file) ? Files.readString(file) : "(none)";
    }

    private static void signal(String name, long pid) throws Exception {
        new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start().waitFor();
    }
}
