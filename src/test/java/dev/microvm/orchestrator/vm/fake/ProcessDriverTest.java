package dev.microvm.orchestrator.vm.fake;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Fault knobs and the environment the "VM" gets. */
class ProcessDriverTest {
    @TempDir Path tmp;

    @Test
    void an_injected_start_failure_is_a_spawn_failure_and_starts_nothing() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        ProcessDriver d = new ProcessDriver(new ProcessDriver.Faults(true, null, false));
        assertThatThrownBy(() -> d.start(ProcessDriverContractTest.processSpec(task, "fail-start")))
                .isInstanceOf(VmException.class).extracting(e -> ((VmException) e).reason()).isEqualTo("spawn_failed");
        assertThat(d.findOrphans("fail-start")).isEmpty();
    }

    @Test
    void a_vm_that_dies_midway_ends_without_done_and_takes_its_agent_with_it() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("echo started; sleep 30");
        ProcessDriver d = new ProcessDriver(new ProcessDriver.Faults(false, Duration.ofMillis(800), false));
        VmHandle h = d.start(ProcessDriverContractTest.processSpec(task, "die-early"));
        Optional<VmExit> exit = d.await(h, Duration.ofSeconds(20));
        assertThat(exit).isPresent();
        assertThat(exit.get().exitCode()).isEqualTo(137);
        assertThat(task.io.resolve(GuestContract.OUT_DONE)).doesNotExist();
        Thread.sleep(200);
        assertThat(ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(a -> String.join(" ", a)).orElse("").equals("30"))
                .filter(p -> p.info().command().orElse("").endsWith("sleep"))
                .filter(p -> p.parent().map(pp -> pp.pid() == 1 || pp.pid() == h.pid()).orElse(true)).count())
                .as("no agent left running").isZero();
    }

    @Test
    void the_vm_gets_a_scrubbed_environment() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        task.writeTask("env");
        ProcessDriver d = new ProcessDriver();
        VmHandle h = d.start(ProcessDriverContractTest.processSpec(task, "env-check"));
        d.await(h, Duration.ofSeconds(20)).orElseThrow();
        String env = task.read(GuestContract.OUT_AGENT_LOG);
        // surefire sets these for the test JVM; nothing of the orchestrator's environment may leak
        assertThat(System.getenv("GIT_CONFIG_GLOBAL")).isNotNull();
        assertThat(env).doesNotContain("GIT_CONFIG_GLOBAL").doesNotContain("JAVA_HOME").doesNotContain("MAVEN");
        assertThat(env).contains("MVO_TASK_ID=t1").contains("MVO_IO_DIR=" + task.io);
    }

    @Test
    void guest_paths_are_host_paths() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        VmSpec spec = ProcessDriverContractTest.processSpec(task, "paths");
        assertThat(new ProcessDriver().guestPath(spec.shares().get(0))).isEqualTo(task.workspace.toString());
    }
}
