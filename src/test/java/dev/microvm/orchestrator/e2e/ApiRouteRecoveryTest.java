package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The orchestrator that booted a task's VM is SIGKILLed (its API proxy, on an ephemeral port, dies
 * with it); a daemon adopts the still-running VM. The agent, which calls the API only afterwards,
 * still reaches it: the adopting process registers the task's placeholder and listens on the port
 * the VM booted with. The process driver runs the real task runner as a detached host process.
 */
class ApiRouteRecoveryTest {

    @TempDir Path tmp;
    private final List<Process> orchestrators = new ArrayList<>();
    private final String key = "sk-ant-api03-route-" + UUID.randomUUID();

    @AfterEach
    void stop() throws Exception {
        for (Process p : orchestrators) {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly();
        }
        ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains(tmp.toString())).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void anAdoptedVmKeepsItsRouteToTheApiThroughTheNewProcessesProxy() throws Exception {
        try (FakeUpstream upstream = new FakeUpstream()) {
            Path repo = GitRepos.create(tmp.resolve("project"));
            Path state = tmp.resolve("state");
            StatePaths paths = new StatePaths(state);
            Files.createDirectories(state);
            Files.writeString(paths.configFile(), new JsonObject().put("driver", "process").put("slots", 1).put("http_port", 0)
                    .put("api_proxy_port", 0).put("api_upstream", "http://127.0.0.1:" + upstream.port())
                    .put("guest_dir", tmp.resolve("no-guest").toString()).encode());
            new RepoRegistry(paths, Clock.systemUTC()).allow(repo, "project");
            Path go = tmp.resolve("go");
            String agent = "while [ ! -e '" + go + "' ]; do sleep 0.2; done; "
                    + "wget -q -O response.json --header \"x-api-key: $ANTHROPIC_API_KEY\" --header 'content-type: application/json' "
                    + "--post-data '{\"model\":\"claude-e2e\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' "
                    + "\"$ANTHROPIC_BASE_URL/v1/messages\" && git add response.json && git commit -q -m 'Called the API after the restart'";

            Process first = start("first.log", "run", "--state-dir", state.toString(), "--repo", "project", "--agent-command", agent, "call the API");
            TaskRecord running = awaitRunning(new TaskStore(paths));
            int bootedPort = running.prepared().getInteger("proxy_port");
            first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            assertThat(ProcessHandle.of(running.pid()).filter(ProcessHandle::isAlive)).as("the VM outlives its orchestrator").isPresent();

            start("daemon.log", "serve", "--state-dir", state.toString());
            awaitLog(tmp.resolve("daemon.log"), "also listening on 127.0.0.1:" + bootedPort);
            Files.writeString(go, "");

            TaskRecord done = awaitTerminal(new TaskStore(paths), running.id());
            assertThat(done.state()).as(done.toJson().encodePrettily()).isEqualTo(TaskState.COMPLETED);
            assertThat(GitRepos.git(repo, "show", "main:response.json")).contains(FakeUpstream.REPLY_TEXT);
            assertThat(upstream.received).anySatisfy(r -> {
                assertThat(r.path()).isEqualTo("/v1/messages");
                assertThat(r.header("x-api-key")).as("the real key is injected upstream").isEqualTo(key);
            });
            assertThat(Files.readString(tmp.resolve("daemon.log"))).doesNotContain(key);
        }
    }

    private Process start(String log, String... args) throws Exception {
        ProcessBuilder pb = JavaProcess.builder(Main.class, args).redirectErrorStream(true)
                .redirectOutput(tmp.resolve(log).toFile());
        pb.environment().put("ANTHROPIC_API_KEY", key);
        Process p = pb.start();
        orchestrators.add(p);
        return p;
    }

    private static TaskRecord awaitRunning(TaskStore store) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (true) {
            for (TaskStore.Entry e : store.loadAll()) {
                if (e.record() != null && e.record().state() == TaskState.RUNNING && e.record().pid() != null) return e.record();
            }
            if (System.nanoTime() > deadline) throw new AssertionError("no task reached running");
            Thread.sleep(100);
        }
    }

    private static TaskRecord awaitTerminal(TaskStore store, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            TaskRecord r = store.load(id).orElseThrow();
            if (r.state().isTerminal()) return r;
            if (System.nanoTime() > deadline) throw new AssertionError("task still " + r.toJson().encodePrettily());
            Thread.sleep(200);
        }
    }

    private static void awaitLog(Path log, String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!Files.exists(log) || !Files.readString(log).contains(text)) {
            if (System.nanoTime() > deadline) throw new AssertionError("never logged '" + text + "': " + (Files.exists(log) ? Files.readString(log) : ""));
            Thread.sleep(200);
        }
    }
}
