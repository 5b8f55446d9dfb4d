package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DriversTest {

    @TempDir Path tmp;

    private OrchestratorConfig config(String driver) {
        return OrchestratorConfig.defaults(tmp).merge(new JsonObject().put("driver", driver)
                .put("guest_dir", tmp.resolve("no-image").toString()), "test");
    }

    @Test
    void theTestClasspathRegistersTheProcessDriverThroughItsProvider() {
        assertThat(Drivers.names()).contains("qemu", "vfkit", "process");
        HypervisorDriver d = Drivers.create(config("process"), new StatePaths(tmp));
        assertThat(d).isInstanceOf(ProcessDriver.class);
        // it boots no image: the manifest (absent here) is never read
        assertThat(Drivers.image(config("process"), d)).isEmpty();
    }

    @Test
    void aDriverThisBuildDoesNotHaveIsRefusedWithTheNamesThereAre() {
        assertThatThrownBy(() -> Drivers.create(config("bochs"), new StatePaths(tmp)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("driver 'bochs' is not available in this build").hasMessageContaining("qemu, vfkit");
        assertThatThrownBy(() -> config("Not A Name")).hasMessageContaining("driver must be a driver name");
    }

    @Test
    void aProductionClasspathRefusesTheProcessDriver() throws Exception {
        Path base = Path.of(System.getProperty("project.basedir", "."));
        String deps = Files.readString(Path.of(System.getProperty("runtime.classpath.file",
                base.resolve("target/runtime-classpath.txt").toString()))).trim();
        Path state = tmp.resolve("state");
        Files.createDirectories(state);
        Files.writeString(state.resolve("config.json"), new JsonObject().put("driver", "process").encode());
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBinary(), "-cp", base.resolve("target/classes") + File.pathSeparator + deps,
                "dev.microvm.orchestrator.cli.Main", "run", "--repo", "any", "--state-dir", state.toString(), "do nothing"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isEqualTo(2);
        assertThat(out).contains("driver 'process' is not available in this build; drivers: qemu, vfkit");
    }
}
