package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.HypervisorDriver.RecoverResult;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmStatus;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmHandle;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The orchestrator process dies (kill -9) while its VM runs; another process takes over. */
@Tag("vm")
class QemuRecoveryVmTest {
    @TempDir Path tmp;

    /** VMs outlive their orchestrator on purpose; a failed assertion must not leave one running for the next test. */
    @AfterEach
    void killLeftovers() {
        ProcessHandle.allProcesses().filter(h -> h.info().commandLine().map(c -> c.contains(tmp.toString())).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void a_vm_outlives_its_killed_orchestrator_and_a_new_driver_recovers_and_awaits_it() throws Exception {
        TestGuest guest = TestGuest.get();
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 6; echo survived > crash.txt && git add crash.txt && git commit -qm survivor");
        task.stampForAgent(guest);

        Process orchestrator = startOrchestrator(task.root, "qemu-crash", guest, "persist");
        Path persisted = task.root.resolve("persisted-handle.json");
        waitUntil(() -> Files.exists(persisted));
        VmHandle handle = VmHandle.fromJson(new JsonObject(Files.readString(persisted)));
        orchestrator.destroyForcibly(); // SIGKILL: no shutdown hook runs
        assertThat(orchestrator.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ProcessHandle.of(handle.pid()).filter(ProcessHandle::isAlive)).as("VM survives its orchestrator").isPresent();

        QemuDriver successor = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
        RecoverResult first = successor.recover(handle);
        RecoverResult again = successor.recover(handle);
        assertThat(first.status()).as(first.detail()).isEqualTo(VmStatus.RUNNING);
        assertThat(again.status()).as("recover is idempotent").isEqualTo(VmStatus.RUNNING);

        Optional<VmExit> exit = successor.await(handle, Duration.ofSeconds(120));
        assertThat(exit).isPresent();
        assertThat(task.read(GuestContract.OUT_RUNNER_LOG)).contains("bundled 1 commit(s)");
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).exists();
        assertThat(successor.recover(handle).status()).isEqualTo(VmStatus.STOPPED);
        QemuStopVmTest.assertNothingLeft(TaskFixture.spec(task.root, "qemu-crash", guest.kernel, guest.initrd,
                dev.microvm.orchestrator.vm.VmSpec.Network.none(), false, null), handle);
    }

    @Test
    void a_vm_whose_handle_was_never_persisted_is_found_as_an_orphan_and_destroyed() throws Exception {
        TestGuest guest = TestGuest.get();
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("sleep 600");

        Process orchestrator = startOrchestrator(task.root, "qemu-orphan-1", guest, "no-persist");
        BufferedReader out = new BufferedReader(new InputStreamReader(orchestrator.getInputStream()));
        String line;
        do {
            line = out.readLine(); // skip log lines
        } while (line != null && !line.startsWith("started "));
        assertThat(line).startsWith("started ");
        long pid = Long.parseLong(line.substring("started ".length()).strip());
        orchestrator.destroyForcibly();
        orchestrator.waitFor(10, TimeUnit.SECONDS);

        QemuDriver successor = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
        List<VmHandle> orphans = successor.findOrphans("qemu-orphan-");
        assertThat(orphans).hasSize(1);
        VmHandle orphan = orphans.get(0);
        assertThat(orphan.pid()).isEqualTo(pid);
        assertThat(orphan.vmName()).isEqualTo("qemu-orphan-1");
        assertThat(successor.recover(orphan).status()).as("rebuilt handle controls the VM").isEqualTo(VmStatus.RUNNING);

        successor.destroy(orphan);
        successor.destroy(orphan);
        assertThat(dev.microvm.orchestrator.vm.ProcessIdentity.running(pid)).isFalse();
        assertThat(successor.findOrphans("qemu-orphan-")).isEmpty();
        assertThat(task.control.resolve(QemuArgv.QMP_SOCKET)).doesNotExist();
    }

    static Process startOrchestrator(Path root, String name, TestGuest guest, String mode) throws Exception {
        String cp = "target/test-classes:target/classes:" + Files.readString(Path.of(System.getProperty("runtime.classpath.file"))).strip();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-cp", cp, VmStarterMain.class.getName(), root.toString(), name,
                guest.kernel.toString(), guest.initrd.toString(), mode)
                .directory(TestGuest.projectDir().toFile())
                .redirectError(root.resolve("starter.err").toFile())
                .start();
    }

    interface Check { boolean ok() throws Exception; }

    static void waitUntil(Check check) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!check.ok()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            Thread.sleep(100);
        }
    }
}
