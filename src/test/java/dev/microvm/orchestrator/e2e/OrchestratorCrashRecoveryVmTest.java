package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The orchestrator process is killed with SIGKILL while its task's VM runs (as Claude Code does to
 * a stdio server at the end of a session); the next orchestrator on the same state directory
 * picks the task up: re-attaches a running VM, finishes a VM that ended meanwhile, and fails a
 * task whose VM died too — always releasing the slot and never leaving a QEMU process behind.
 */
@Tag("vm")
class OrchestratorCrashRecoveryVmTest {

    @TempDir Path tmp;
    private final List<Process> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        started.forEach(p -> { p.descendants().forEach(ProcessHandle::destroyForcibly); p.destroyForcibly(); });
        qemuProcesses(tmp.toString()).forEach(ProcessHandle::destroyForcibly); // only this test's own VMs
    }

    @Test
    void aTaskWhoseOrchestratorWasKilledIsReattachedAndItsCommitMergedByTheNextOrchestrator() throws Exception {
        E2eState state = E2eState.create(tmp, 1, null);
        String taskId = startAndKillWhileRunning(state, "sleep 8; echo survived > survived.txt && git add survived.txt && git commit -q -m 'Survived the crash'");
        ProcessHandle qemu = qemuOf(taskId).orElseThrow(() -> new AssertionError("QEMU died with the orchestrator"));
        assertThat(qemu.isAlive()).isTrue();

        JsonObject done = recover(state, taskId);
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(done.getJsonObject("merge_result").getBoolean("merged")).as(done.encodePrettily()).isTrue();
        assertThat(state.git("log", "-1", "--format=%s", "main")).isEqualTo("Survived the crash");
        assertThat(Files.readString(state.repo.resolve("survived.txt"))).isEqualTo("survived\n");
        assertCleanEnd(state, taskId);
    }

    @Test
    void aVmThatFinishedWhileNoOrchestratorRanIsCollectedAndMergedOnRestart() throws Exception {
        E2eState state = E2eState.create(tmp, 1, null);
        String taskId = startAndKillWhileRunning(state, "sleep 2; echo offline > offline.txt && git add offline.txt && git commit -q -m 'Finished offline'");
        Optional<ProcessHandle> qemu = qemuOf(taskId);
        qemu.ifPresent(q -> q.onExit().orTimeout(120, java.util.concurrent.TimeUnit.SECONDS).join());
        assertThat(Files.exists(state.paths.taskIo(taskId).resolve("out/done"))).as("the guest finished on its own").isTrue();
        assertThat(state.taskRecord(taskId).getString("state", state.taskRecord(taskId).getString("status"))).isEqualTo("running");

        JsonObject done = recover(state, taskId);
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(state.git("log", "-1", "--format=%s", "main")).isEqualTo("Finished offline");
        assertCleanEnd(state, taskId);
    }

    @Test
    void aTaskWhoseVmWasKilledTooFailsCleanlyAndReleasesItsSlot() throws Exception {
        E2eState state = E2eState.create(tmp, 1, null);
        String before = state.git("rev-parse", "main");
        String taskId = startAndKillWhileRunning(state, "sleep 60; echo never > never.txt && git add never.txt && git commit -q -m never");
        ProcessHandle qemu = qemuOf(taskId).orElseThrow(() -> new AssertionError("QEMU died with the orchestrator"));
        qemu.destroyForcibly();
        qemu.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();

        JsonObject done = recover(state, taskId);
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("failed");
        assertThat(done.getString("reason")).as(done.encodePrettily()).isIn("vm_lost", "guest_incomplete");
        assertThat(state.git("rev-parse", "main")).isEqualTo(before);
        assertCleanEnd(state, taskId);
    }

    /** Starts {@code microvm-orchestrator run} in its own JVM and kills it with SIGKILL once the task runs. */
    private String startAndKillWhileRunning(E2eState state, String agentCommand) throws Exception {
        ProcessBuilder pb = JavaProcess.builder(dev.microvm.orchestrator.cli.Main.class, "run", "--state-dir", state.root.toString(),
                "--repo", "project", "--agent-command", agentCommand, "recovery test");
        pb.environment().keySet().removeIf(k -> k.startsWith("ANTHROPIC_") || k.startsWith("CLAUDE_CODE_"));
        Process orchestrator = pb.redirectErrorStream(true).redirectOutput(tmp.resolve("orchestrator.log").toFile()).start();
        started.add(orchestrator);
        long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        while (System.nanoTime() < deadline) {
            for (String id : taskIds(state)) {
                JsonObject rec = state.taskRecord(id);
                if (rec != null && "running".equals(rec.getString("state", rec.getString("status")))) {
                    orchestrator.destroyForcibly(); // SIGKILL: no shutdown hook runs
                    assertThat(orchestrator.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                    return id;
                }
            }
            assertThat(orchestrator.isAlive()).as(() -> log()).isTrue();
            Thread.sleep(100);
        }
        throw new AssertionError("the task never reached running:\n" + log());
    }

    private JsonObject recover(E2eState state, String taskId) throws Exception {
        OrchestratorConfig config = OrchestratorConfig.load(state.paths);
        try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
            JsonObject done = f.awaitTerminal(taskId, Duration.ofSeconds(150));
            Thread.sleep(300); // the slot release follows the terminal transition
            JsonObject slots = f.request(Addresses.SLOT_LIST, new JsonObject());
            assertThat(slots.getJsonArray("active")).as(slots.encodePrettily()).isEmpty();
            return done;
        }
    }

    private void assertCleanEnd(E2eState state, String taskId) throws Exception {
        List<Long> seqs = Files.readAllLines(state.paths.eventLog()).stream().filter(l -> !l.isBlank())
                .map(l -> new JsonObject(l).getLong("seq")).toList();
        for (int i = 0; i < seqs.size(); i++) assertThat(seqs.get(i)).as("event seq %d of %s", i, seqs).isEqualTo(i + 1L);
        assertThat(qemuOf(taskId)).as("no QEMU left").isEmpty();
        assertThat(state.git("fsck", "--no-progress")).doesNotContain("error");
        assertThat(state.git("status", "--porcelain")).isEmpty();
    }

    private static List<String> taskIds(E2eState state) throws Exception {
        if (!Files.isDirectory(state.paths.tasksDir())) return List.of();
        try (Stream<Path> s = Files.list(state.paths.tasksDir())) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    private Optional<ProcessHandle> qemuOf(String taskId) {
        return qemuProcesses(tmp.toString()).filter(ph -> ph.info().commandLine().orElse("").contains("mvo-" + taskId)).findFirst();
    }

    /** QEMU processes whose command line names {@code marker} (this test's temporary directory). */
    static Stream<ProcessHandle> qemuProcesses(String marker) {
        return ProcessHandle.allProcesses().filter(ph -> ph.isAlive()
                && ph.info().command().orElse("").contains("qemu-system")
                && ph.info().commandLine().orElse("").contains(marker));
    }

    private String log() {
        try {
            return Files.readString(tmp.resolve("orchestrator.log"));
        } catch (Exception e) {
            return "(no log)";
        }
    }
}
