package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.vm.HypervisorDriver.RecoverResult;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmStatus;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every hypervisor driver promises, run against each of them: the host-process driver, QEMU
 * (real boots) and vfkit (against the vfkit simulator, scripts/vfkit-simulator).
 */
public abstract class DriverContract {
    @TempDir protected Path tmp;

    private final List<Runnable> cleanups = new ArrayList<>();

    /** A driver; {@code guestIgnoresStop} makes its guests ignore graceful shutdown requests. */
    protected abstract HypervisorDriver driver(boolean guestIgnoresStop) throws Exception;

    /** The spec of a task laid out by {@code task}. */
    protected abstract VmSpec spec(TaskFixture task, String name, boolean guestIgnoresStop) throws Exception;

    protected Duration bootTimeout() {
        return Duration.ofSeconds(90);
    }

    @AfterEach
    void cleanUp() {
        cleanups.forEach(Runnable::run);
    }

    protected VmHandle started(HypervisorDriver d, VmSpec spec) throws Exception {
        VmHandle h = d.start(spec);
        cleanups.add(() -> d.destroy(h));
        return h;
    }

    @Test
    void a_task_runs_to_completion_and_its_commits_come_back_as_a_bundle() throws Exception {
        HypervisorDriver d = driver(false);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo work > work.txt && git add work.txt && git commit -qm contract-work && echo finished");
        VmSpec spec = spec(task, "contract-run", false);
        VmHandle h = started(d, spec);
        assertThat(h.driver()).isEqualTo(d.name());
        d.awaitReady(h, bootTimeout());

        Optional<VmExit> exit = d.await(h, bootTimeout());

        assertThat(exit).isPresent();
        assertThat(exit.get().forced()).isFalse();
        assertThat(task.read(GuestContract.OUT_EXIT_CODE).strip()).isEqualTo("0");
        assertThat(task.read(GuestContract.OUT_AGENT_LOG)).contains("finished");
        assertThat(task.io.resolve(GuestContract.OUT_BUNDLE)).isRegularFile();
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).exists();
        assertThat(d.inspect(h)).isEqualTo(VmStatus.STOPPED);
        assertThat(d.recover(h).status()).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void graceful_stop_lets_the_runner_finish_without_force() throws Exception {
        HypervisorDriver d = driver(false);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 600");
        VmSpec spec = spec(task, "contract-stop", false);
        VmHandle h = started(d, spec);
        d.awaitReady(h, bootTimeout());
        waitForFile(task.io.resolve(GuestContract.OUT_AGENT_LOG), "started");
        assertThat(d.inspect(h)).isEqualTo(VmStatus.RUNNING);

        VmExit exit = d.stop(h, Duration.ofSeconds(30));

        assertThat(exit.forced()).as(exit.detail()).isFalse();
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).exists();
        assertThat(d.inspect(h)).isEqualTo(VmStatus.STOPPED);
        assertThat(d.stop(h, Duration.ofSeconds(1)).forced()).as("stopping again is a no-op").isFalse();
    }

    @Test
    void a_guest_ignoring_stop_is_forced_off_after_the_grace_period() throws Exception {
        HypervisorDriver d = driver(true);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 600");
        VmSpec spec = spec(task, "contract-stubborn", true);
        VmHandle h = started(d, spec);
        d.awaitReady(h, bootTimeout());
        waitForFile(task.io.resolve(GuestContract.OUT_AGENT_LOG), "started");

        VmExit exit = d.stop(h, Duration.ofSeconds(2));

        assertThat(exit.forced()).isTrue();
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).doesNotExist();
        assertThat(d.inspect(h)).isEqualTo(VmStatus.STOPPED);
        assertThat(ProcessIdentity.running(h.pid())).isFalse();
    }

    @Test
    void a_fresh_driver_recovers_a_running_vm_from_its_persisted_handle() throws Exception {
        HypervisorDriver d = driver(false);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 3; echo later > later.txt; git add later.txt; git commit -qm later");
        VmSpec spec = spec(task, "contract-recover", false);
        VmHandle h = started(d, spec);
        assertThat(new DetachedSpawner().isHelper(ProcessHandle.of(h.pid()).orElseThrow()))
                .as("start returns once the hypervisor itself runs in the pid, not the launch or session helper")
                .isFalse();
        VmHandle persisted = VmHandle.fromJson(new JsonObject(h.toJson().encode()));

        HypervisorDriver successor = driver(false);
        RecoverResult r1 = successor.recover(persisted);
        RecoverResult r2 = successor.recover(persisted);

        assertThat(r1.status()).as(r1.detail()).isEqualTo(VmStatus.RUNNING);
        assertThat(r2.status()).isEqualTo(VmStatus.RUNNING);
        successor.awaitReady(persisted, bootTimeout());
        assertThat(successor.await(persisted, bootTimeout())).isPresent();
        assertThat(task.io.resolve(GuestContract.OUT_BUNDLE)).isRegularFile();
        assertThat(successor.recover(persisted).status()).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void a_vm_without_a_persisted_handle_is_found_by_name_and_destroyed() throws Exception {
        HypervisorDriver d = driver(false);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("sleep 600");
        String name = "contract-orphan-" + ProcessHandle.current().pid();
        VmHandle h = started(d, spec(task, name, false));

        List<VmHandle> orphans = driver(false).findOrphans("contract-orphan-" + ProcessHandle.current().pid());

        assertThat(orphans).extracting(VmHandle::pid).containsExactly(h.pid());
        VmHandle orphan = orphans.get(0);
        assertThat(orphan.vmName()).isEqualTo(name);
        assertThat(orphan.processStartTime()).isEqualTo(h.processStartTime());
        d.destroy(orphan);
        d.destroy(orphan);
        assertThat(d.inspect(h)).isEqualTo(VmStatus.STOPPED);
        assertThat(d.findOrphans(name)).isEmpty();
    }

    /**
     * Makes the control channel of a running VM unusable (its socket removed), or returns false for
     * a driver without one.
     */
    protected boolean breakControlChannel(VmHandle h) throws Exception {
        return false;
    }

    @Test
    void a_running_vm_whose_control_channel_is_dead_is_destroyed_by_recover() throws Exception {
        HypervisorDriver d = driver(false);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 600");
        VmHandle h = started(d, spec(task, "contract-deaf", false));
        d.awaitReady(h, bootTimeout());
        boolean broken = breakControlChannel(h);
        DetachedVmDriver successor = (DetachedVmDriver) driver(false);
        successor.youngVmAge(Duration.ZERO); // no grace for a VM that might still be opening its socket

        RecoverResult r = successor.recover(h);

        if (broken) {
            assertThat(r.status()).as(r.detail()).isEqualTo(VmStatus.LOST);
            assertThat(r.detail()).contains("force-destroyed");
            assertThat(ProcessIdentity.running(h.pid())).as("nothing half-controlled is left running").isFalse();
        } else {
            assertThat(r.status()).as(r.detail()).isEqualTo(VmStatus.RUNNING);
        }
    }

    @Test
    void a_handle_of_another_driver_is_never_touched() throws Exception {
        HypervisorDriver d = driver(false);
        VmHandle foreign = new VmHandle(VmHandle.CURRENT_VERSION, "other-driver", "x", ProcessHandle.current().pid(),
                ProcessIdentity.startTime(ProcessHandle.current().pid()).orElseThrow(), new JsonObject());
        assertThat(d.recover(foreign).status()).isEqualTo(VmStatus.LOST);
        assertThat(ProcessHandle.current().isAlive()).isTrue();
    }

    protected static void waitForFile(Path file, String text) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readString(file).contains(text)) return;
            Thread.sleep(50);
        }
        throw new AssertionError(file + " never contained " + text);
    }
}
