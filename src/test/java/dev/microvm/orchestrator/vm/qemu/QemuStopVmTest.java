package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Stopping real VMs, and guests that never get going. */
@Tag("vm")
class QemuStopVmTest {
    @TempDir Path tmp;

    final QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
    final java.util.List<VmHandle> started = new java.util.ArrayList<>();

    @org.junit.jupiter.api.AfterEach
    void destroyLeftovers() {
        started.forEach(driver::destroy);
    }

    @Test
    void graceful_stop_lets_the_runner_finish_and_the_guest_power_off() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 600");
        VmSpec spec = task.spec("qemu-graceful", TestGuest.get(), VmSpec.Network.none(), false, null);
        VmHandle handle = driver.start(spec);
        started.add(handle);
        driver.awaitReady(handle, QemuDriverVmTest.BOOT);
        waitFor(task.io.resolve(GuestContract.OUT_AGENT_LOG), "started");

        VmExit exit = driver.stop(handle, Duration.ofSeconds(30));

        assertThat(exit.forced()).as(exit.detail()).isFalse();
        assertThat(exit.exitCode()).isZero();
        assertThat(task.read(GuestContract.OUT_RUNNER_LOG)).contains("asked to stop");
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).exists();
        assertNothingLeft(spec, handle);
    }

    @Test
    void a_guest_that_ignores_shutdown_is_forced_off_after_the_grace_period() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 600");
        VmSpec spec = task.spec("qemu-stubborn", TestGuest.get(), VmSpec.Network.none(), false, "mvo.test.ignore_shutdown=1");
        VmHandle handle = driver.start(spec);
        started.add(handle);
        driver.awaitReady(handle, QemuDriverVmTest.BOOT);
        waitFor(task.io.resolve(GuestContract.OUT_AGENT_LOG), "started");

        long t0 = System.nanoTime();
        VmExit exit = driver.stop(handle, Duration.ofSeconds(3));

        assertThat(exit.forced()).isTrue();
        assertThat(exit.detail()).contains("ignored the shutdown request");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).doesNotExist();
        assertNothingLeft(spec, handle);
        assertThat(driver.stop(handle, Duration.ofSeconds(1)).detail()).as("stop is idempotent").isNotBlank();
    }

    @Test
    void a_guest_that_never_reaches_the_runner_is_a_boot_timeout_naming_the_accelerator() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("true");
        // The kernel boots, but init is a long sleep instead of the runner.
        VmSpec spec = task.spec("qemu-hang", TestGuest.get(), VmSpec.Network.none(), false, "rdinit=/bin/sleep -- 1000");
        VmHandle handle = driver.start(spec);
        started.add(handle);

        assertThatThrownBy(() -> driver.awaitReady(handle, Duration.ofSeconds(15)))
                .isInstanceOf(VmException.class)
                .hasMessageContaining("did not reach the task runner within 15 s")
                .hasMessageContaining("accelerator tcg")
                .extracting(e -> ((VmException) e).reason()).isEqualTo("boot_timeout");
        assertNothingLeft(spec, handle);
    }

    @Test
    void a_corrupt_initrd_is_a_boot_failure_with_the_console_tail() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("true");
        Path bad = tmp.resolve("garbage.img");
        Files.write(bad, new byte[4096]);
        TestGuest guest = TestGuest.get();
        VmSpec good = task.spec("qemu-badimg", guest, VmSpec.Network.none(), false, null);
        VmSpec spec = new VmSpec(good.name(), 1, 256, new VmSpec.Boot(guest.kernel, bad, good.boot().cmdline()),
                List.of(), good.shares(), good.network(), good.consoleLog(), good.controlDir(), Map.of());
        VmHandle handle = driver.start(spec);
        started.add(handle);

        assertThatThrownBy(() -> driver.awaitReady(handle, QemuDriverVmTest.BOOT))
                .isInstanceOf(VmException.class)
                .hasMessageContaining("stopped before the guest reached the task runner")
                .extracting(e -> ((VmException) e).reason()).isEqualTo("boot_failed");
        assertNothingLeft(spec, handle);
    }

    static void assertNothingLeft(VmSpec spec, VmHandle handle) {
        assertThat(dev.microvm.orchestrator.vm.ProcessIdentity.running(handle.pid())).as("hypervisor process").isFalse();
        assertThat(spec.controlDir().resolve(QemuArgv.QMP_SOCKET)).as("QMP socket").doesNotExist();
    }

    static void waitFor(Path file, String text) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readString(file).contains(text)) return;
            Thread.sleep(100);
        }
        throw new AssertionError(file + " never contained " + text);
    }
}
