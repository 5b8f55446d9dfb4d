package dev.microvm.orchestrator.vm.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.microvm.orchestrator.util.ProcessRunner;
import dev.microvm.orchestrator.testing.ProcessMarker;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The setup commands of the egress namespace (ip, nft, slirp4netns) run with a timeout and a scrubbed environment. */
class EgressNamespaceCommandTest {

    @Test
    void a_hung_setup_command_is_killed_by_its_timeout() throws Exception {
        String marker = ProcessMarker.sleepSeconds();
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> EgressNamespace.run(List.of("sh", "-c", "sleep " + marker), "rules\n", true, Duration.ofSeconds(1)))
                .isInstanceOf(ProcessRunner.TimeoutException.class)
                .hasMessageContaining("sleep " + marker).hasMessageContaining("did not finish within 1 s and was killed");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
        assertThat(ProcessMarker.running(marker)).isFalse();
    }

    @Test
    void setup_commands_see_only_the_scrubbed_environment_and_their_input() throws Exception {
        String out = EgressNamespace.run(List.of("sh", "-c", "cat; env | sort"), "table inet x\n", true, Duration.ofSeconds(10));
        assertThat(out).startsWith("table inet x\n").contains("PATH=" + ProcessRunner.BASE_ENV.get("PATH"))
                .doesNotContain("HOME=").doesNotContain("USER=");
    }

    @Test
    void a_failing_setup_command_reports_its_exit_code_and_output() {
        assertThatThrownBy(() -> EgressNamespace.run(List.of("sh", "-c", "echo no permission; exit 2"), null, true, Duration.ofSeconds(10)))
                .hasMessageContaining("failed (exit 2): no permission");
    }
}
