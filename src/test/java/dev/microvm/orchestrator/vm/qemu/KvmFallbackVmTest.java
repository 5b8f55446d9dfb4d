package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code accelerator: auto} on this host as it is. Where /dev/kvm opens but KVM never runs a
 * guest (nested virtualization here), the first boot times out, the host's KVM is recorded as
 * unusable and the same VM boots under TCG; later resolutions pick TCG at once. Where KVM works,
 * the guest simply boots; without /dev/kvm, auto is TCG from the start.
 */
@Tag("vm")
class KvmFallbackVmTest {
    @TempDir Path tmp;
    private QemuDriver driver;
    private final List<VmHandle> started = new ArrayList<>();

    @AfterEach
    void destroyLeftovers() {
        if (driver != null) started.forEach(driver::destroy);
    }

    @Test
    void auto_falls_back_to_tcg_for_good_when_kvm_does_not_boot_a_guest() throws Exception {
        Path verdict = tmp.resolve("run").resolve("kvm-does-not-boot-guests");
        QemuOptions auto = QemuOptions.forHost(QemuOptions.Accelerator.AUTO, verdict);
        if (!QemuOptions.kvmUsable()) {
            System.err.println("KvmFallbackVmTest: no usable /dev/kvm here; auto must be TCG");
            assertThat(auto.accelerator()).isEqualTo(QemuOptions.Accelerator.TCG);
            assertThat(auto.kvmVerdict()).isNull();
            return;
        }
        assertThat(auto.accelerator()).isEqualTo(QemuOptions.Accelerator.KVM);
        driver = new QemuDriver(auto);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo booted > booted.txt && git add booted.txt && git commit -qm booted");
        VmSpec spec = task.spec("qemu-auto", TestGuest.get(), VmSpec.Network.none(), false, null);

        VmHandle first = driver.start(spec);
        started.add(first);
        try {
            driver.awaitReady(first, Duration.ofSeconds(20));
            System.err.println("KvmFallbackVmTest: KVM boots guests on this host");
            assertThat(verdict).doesNotExist();
            assertThat(driver.await(first, QemuDriverVmTest.BOOT)).isPresent();
        } catch (VmException e) {
            System.err.println("KvmFallbackVmTest: KVM did not boot the guest; checking the fallback to TCG");
            assertThat(e.reason()).as(e.getMessage()).isEqualTo(QemuDriver.KVM_FAILED);
            assertThat(verdict).as("not yet: the image could be at fault").doesNotExist();
            assertThat(driver.options().accelerator()).isEqualTo(QemuOptions.Accelerator.TCG);

            VmHandle again = driver.start(spec);
            started.add(again);
            assertThat(again.data().getString("accelerator")).isEqualTo("tcg");
            driver.awaitReady(again, QemuDriverVmTest.BOOT);
            assertThat(verdict).as("TCG booted what KVM did not").isRegularFile();
            assertThat(QemuOptions.forHost(QemuOptions.Accelerator.AUTO, verdict).accelerator()).as("remembered").isEqualTo(QemuOptions.Accelerator.TCG);
            assertThat(QemuOptions.forHost(QemuOptions.Accelerator.KVM, verdict).accelerator()).as("an explicit choice stands").isEqualTo(QemuOptions.Accelerator.KVM);
            assertThat(driver.await(again, QemuDriverVmTest.BOOT)).isPresent();
        }
        assertThat(task.io.resolve(GuestContract.OUT_BUNDLE)).isRegularFile();
        assertThat(Files.readString(task.io.resolve(GuestContract.OUT_EXIT_CODE)).strip()).isEqualTo("0");
    }

    /** What a node does: {@link QemuDriver#boot} starts the guest again under TCG by itself, handing over each handle. */
    @Test
    void boot_starts_a_guest_that_kvm_did_not_boot_again_under_tcg() throws Exception {
        Path verdict = tmp.resolve("run").resolve("kvm-does-not-boot-guests");
        QemuOptions auto = QemuOptions.forHost(QemuOptions.Accelerator.AUTO, verdict);
        driver = new QemuDriver(auto);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo booted > booted.txt && git add booted.txt && git commit -qm booted");
        VmSpec spec = task.spec("qemu-auto-boot", TestGuest.get(), VmSpec.Network.none(), false, null);
        List<VmHandle> handedOver = new ArrayList<>();

        VmHandle h = driver.boot(spec, QemuDriverVmTest.BOOT, handle -> {
            handedOver.add(handle);
            started.add(handle);
        });

        assertThat(handedOver.getLast()).isEqualTo(h);
        assertThat(driver.await(h, QemuDriverVmTest.BOOT)).isPresent();
        assertThat(task.io.resolve(GuestContract.OUT_BUNDLE)).isRegularFile();
        if (handedOver.size() == 2) {
            System.err.println("KvmFallbackVmTest: KVM did not boot the guest; boot() started it again under TCG");
            assertThat(handedOver.getFirst().data().getString("accelerator")).isEqualTo("kvm");
            assertThat(h.data().getString("accelerator")).isEqualTo("tcg");
            assertThat(verdict).as("remembered").isRegularFile();
        } else {
            assertThat(handedOver).hasSize(1);
            assertThat(verdict).doesNotExist();
        }
    }

    @Test
    void a_guest_image_that_boots_nowhere_does_not_rule_out_kvm() throws Exception {
        Path verdict = tmp.resolve("run").resolve("kvm-does-not-boot-guests");
        QemuOptions auto = QemuOptions.forHost(QemuOptions.Accelerator.AUTO, verdict);
        driver = new QemuDriver(auto);
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("true");
        Path garbage = Files.write(tmp.resolve("garbage.img"), new byte[4096]);
        TestGuest guest = TestGuest.get();
        VmSpec good = task.spec("qemu-auto-bad", guest, VmSpec.Network.none(), false, null);
        VmSpec bad = new VmSpec(good.name(), 1, 256, new VmSpec.Boot(guest.kernel, garbage, good.boot().cmdline()),
                List.of(), good.shares(), good.network(), good.consoleLog(), good.controlDir(), java.util.Map.of());

        VmException first = bootFails(bad);
        if (auto.accelerator() == QemuOptions.Accelerator.KVM) {
            assertThat(first.reason()).isEqualTo(QemuDriver.KVM_FAILED);
            VmException second = bootFails(bad);
            assertThat(second.reason()).as("under TCG too").isEqualTo("boot_failed");
            assertThat(driver.options().accelerator()).as("back to KVM: the image was at fault").isEqualTo(QemuOptions.Accelerator.KVM);
        } else {
            assertThat(first.reason()).isEqualTo("boot_failed");
        }
        assertThat(verdict).doesNotExist();
    }

    private VmException bootFails(VmSpec spec) throws Exception {
        VmHandle h = driver.start(spec);
        started.add(h);
        try {
            driver.awaitReady(h, Duration.ofSeconds(30));
        } catch (VmException e) {
            return e;
        }
        throw new AssertionError("a garbage initrd booted");
    }
}
