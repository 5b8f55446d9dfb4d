package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.DriverProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** vfkit's fingerprint: its version from {@code vfkit --version} (the vfkit simulator here), hvf as the accelerator. */
class VfkitFingerprintTest {
    @TempDir Path tmp;

    @Test
    void aWorkingVfkitIsHealthyWithItsVersion() throws Exception {
        Path exe = VfkitSimulator.install(tmp.resolve("bin"));
        DriverProbe p = new VfkitDriver(new VfkitOptions(exe.toString(), false)).probe();
        assertThat(p.problem()).isNull();
        assertThat(p.hypervisor()).isEqualTo("vfkit");
        assertThat(p.version()).matches("\\d+\\.\\d+\\.\\d+");
        assertThat(p.accelerator()).isEqualTo("hvf");
        assertThat(p.details()).containsEntry("binary", exe.toAbsolutePath().toString()).containsEntry("vfkit_version", p.version());
    }

    @Test
    void aMissingVfkitIsUnhealthySayingHowToInstallIt() {
        DriverProbe p = new VfkitDriver(new VfkitOptions(tmp.resolve("no-vfkit").toString(), false)).probe();
        assertThat(p.problem()).contains("vfkit not found").contains("brew install vfkit");
        assertThat(p.version()).isNull();
    }
}
