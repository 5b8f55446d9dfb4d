package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.DriverProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * QEMU's fingerprint against the real qemu-system-x86_64: its version, and whether its accelerator
 * opens, in well under a second (every node computes it at start and every minute).
 */
class QemuFingerprintTest {
    @TempDir Path tmp;

    private static void assumeQemu() {
        boolean required = "true".equals(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"));
        boolean present = QemuDriver.findOnPath("qemu-system-x86_64").isPresent();
        if (required) assertThat(present).as("qemu-system-x86_64 on PATH").isTrue();
        assumeTrue(present, "qemu-system-x86_64 is not installed");
    }

    @Test
    void tcgIsHealthyWithQemusVersionWithinASecond() {
        assumeQemu();
        long t0 = System.nanoTime();
        DriverProbe p = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG)).probe();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.err.println("QemuFingerprintTest: " + p + " in " + ms + " ms");
        assertThat(p.problem()).isNull();
        assertThat(p.hypervisor()).isEqualTo("qemu-system-x86_64");
        assertThat(p.version()).matches("\\d+\\.\\d+(\\.\\d+)?");
        assertThat(p.accelerator()).isEqualTo("tcg");
        assertThat(p.details()).containsEntry("machine", "microvm");
        assertThat(ms).isLessThan(1_500);
    }

    /**
     * auto on a host whose KVM cannot even start this CPU model (here it aborts: "failed to set
     * MSR"): the check moves this process to TCG and says why. Where KVM opens, auto keeps it.
     */
    @Test
    void autoGivesWayToTcgWhenKvmDoesNotOpen() {
        assumeQemu();
        QemuOptions auto = QemuOptions.forHost(QemuOptions.Accelerator.AUTO, tmp.resolve("kvm-verdict"));
        QemuDriver driver = new QemuDriver(auto);
        DriverProbe p = driver.probe();
        System.err.println("QemuFingerprintTest (auto, chose " + auto.accelerator() + "): " + p);
        assertThat(p.problem()).isNull();
        if (auto.accelerator() == QemuOptions.Accelerator.TCG) {
            assertThat(p.accelerator()).isEqualTo("tcg");
            return;
        }
        DriverProbe explicitKvm = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.KVM)).probe();
        if (explicitKvm.problem() == null) {
            assertThat(p.accelerator()).isEqualTo("kvm");
            assertThat(driver.options().accelerator()).isEqualTo(QemuOptions.Accelerator.KVM);
        } else {
            assertThat(explicitKvm.problem()).contains("accelerator kvm exits at once");
            assertThat(p.accelerator()).isEqualTo("tcg");
            assertThat(p.details().get("kvm")).contains("accelerator kvm exits at once");
            assertThat(driver.options().accelerator()).as("guests now start under TCG").isEqualTo(QemuOptions.Accelerator.TCG);
            assertThat(tmp.resolve("kvm-verdict")).as("nothing recorded: the check is cheap").doesNotExist();
        }
    }

    @Test
    void aMissingBinaryIsUnhealthy() {
        DriverProbe p = new QemuDriver(new QemuOptions(tmp.resolve("qemu-system-x86_64").toString(), "microvm",
                QemuOptions.Accelerator.TCG, OptionalLong.empty())).probe();
        assertThat(p.problem()).contains("not found");
        assertThat(p.version()).isNull();
    }

    @Test
    void aBinaryThatIsNotQemuIsUnhealthy() throws Exception {
        Path fake = tmp.resolve("qemu-system-x86_64");
        java.nio.file.Files.writeString(fake, "#!/bin/sh\necho 'no such thing' >&2\nexit 1\n");
        fake.toFile().setExecutable(true);
        DriverProbe p = new QemuDriver(new QemuOptions(fake.toString(), "microvm", QemuOptions.Accelerator.TCG, OptionalLong.empty())).probe();
        assertThat(p.problem()).contains("--version' did not answer").contains("no such thing");
    }
}
