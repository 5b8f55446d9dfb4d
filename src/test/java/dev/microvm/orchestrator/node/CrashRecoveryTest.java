package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.cli.Main;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Orchestrator processes are killed with SIGKILL while their tasks run on the process driver
 * (whose "VMs" are detached host processes, so they outlive the orchestrator as real VMs do).
 * A new process adopts the tasks: live ones are re-attached and finish, a dead one fails with a
 * reason, nothing is lost and sequence numbers continue.
 */
class CrashRecoveryTest {

    @TempDir Path tmp;

    @Test
    void killedOrchestratorsLoseNoTaskLeakNoSlotAndKeepEventNumbersGapless() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        StatePaths paths = new StatePaths(state);
        Files.createDirectories(state);
        Files.writeString(paths.configFile(), new JsonObject().put("driver", "process").put("slots", 3).put("http_port", 0)
                .put("guest_dir", tmp.resolve("no-guest").toString()).encode());
        new RepoRegistry(paths, Clock.systemUTC()).allow(repo, "project");

        // the survivors work only once the test says go: all three are surely running at the kill
        Path go = tmp.resolve("go");
        String waitForGo = "while [ ! -e '" + go + "' ]; do sleep 0.1; done; ";
        Map<String, String> agents = Map.of(
                "survivor-a", waitForGo + "echo a > a.txt && git add a.txt && git commit -q -m 'task a'",
                "survivor-b", waitForGo + "echo b > b.txt && git add b.txt && git commit -q -m 'task b'",
                "victim", "sleep 60");
        List<Process> orchestrators = new ArrayList<>();
        for (var e : agents.entrySet()) {
            orchestrators.add(JavaProcess.builder(Main.class, "run", "--state-dir", state.toString(), "--repo", "project",
                    "--agent-command", e.getValue(), e.getKey()).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve(e.getKey() + ".out").toFile()).start());
        }
        TaskStore store = new TaskStore(paths);
        Map<String, TaskRecord> running = awaitRunning(store, 3, Duration.ofSeconds(90));
        for (Process p : orchestrators) p.destroyForcibly();
        for (Process p : orchestrators) p.waitFor();

        TaskRecord victim = running.values().stream().filter(r -> r.description().equals("victim")).findFirst().orElseThrow();
        // its "VM" dies while nobody watches: the whole process group, as a VM takes its guest with it
        new ProcessBuilder("kill", "-KILL", "--", "-" + victim.pid()).inheritIO().start().waitFor();
        long seqBefore = new dev.microvm.orchestrator.events.EventLog(paths.eventLog(), Clock.systemUTC()).lastSequence();

        OrchestratorConfig config = OrchestratorConfig.load(paths);
        try (NodeFixture f = NodeFixture.start(state, config, new ProcessDriver())) {
            Files.writeString(go, "");
            Map<String, JsonObject> finished = new HashMap<>();
            for (TaskRecord r : running.values()) finished.put(r.description(), f.awaitTerminal(r.id(), Duration.ofSeconds(90)));

            assertThat(finished.get("survivor-a").getString("status")).as(finished.get("survivor-a").encodePrettily()).isEqualTo("completed");
            assertThat(finished.get("survivor-b").getString("status")).as(finished.get("survivor-b").encodePrettily()).isEqualTo("completed");
            JsonObject lost = finished.get("victim");
            assertThat(lost.getString("status")).isEqualTo("failed");
            assertThat(lost.getString("reason")).isIn("guest_incomplete", "vm_lost");
            assertThat(lost.getString("error")).isNotBlank();

            assertThat(GitRepos.git(repo, "log", "--format=%s", "main")).contains("task a").contains("task b");
            assertThat(Files.exists(repo.resolve("a.txt")) && Files.exists(repo.resolve("b.txt"))).isTrue();
            GitRepos.git(repo, "fsck", "--strict");

            JsonObject slots = f.request(Addresses.SLOT_LIST, new JsonObject());
            assertThat(slots.getJsonArray("active")).isEmpty();
            assertThat(slots.getJsonArray("available").size()).isEqualTo(3);

            List<TaskEvent> events = f.node.events().log().readAfter(0, 100_000);
            for (int i = 0; i < events.size(); i++) assertThat(events.get(i).seq()).isEqualTo(i + 1);
            assertThat(events.getLast().seq()).isGreaterThan(seqBefore);
            assertThat(store.loadAll()).allSatisfy(e -> assertThat(e.record().state().isTerminal()).isTrue());
        }
    }

    private static Map<String, TaskRecord> awaitRunning(TaskStore store, int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, TaskRecord> running = new HashMap<>();
            for (TaskStore.Entry e : store.loadAll()) {
                if (e.record() != null && e.record().state() == TaskState.RUNNING) running.put(e.taskId(), e.record());
            }
            if (running.size() == count) return running;
            if (System.nanoTime() > deadline) throw new AssertionError("only " + running.size() + " tasks running: " + store.loadAll());
            Thread.sleep(100);
        }
    }
}
