package dev.microvm.orchestrator.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.microvm.orchestrator.testing.ProcessMarker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessRunnerTest {

    @Test
    void a_hung_command_and_what_it_started_are_killed_at_the_timeout() throws Exception {
        String marker = ProcessMarker.sleepSeconds();
        long t0 = System.nanoTime();
        // the background sleep keeps the output pipe open: reading to end of file would never return
        assertThatThrownBy(() -> ProcessRunner.of("sh", "-c", "sleep " + marker + " & sleep " + marker + "; :")
                .timeout(Duration.ofMillis(700)).run())
                .isInstanceOf(ProcessRunner.TimeoutException.class)
                .hasMessageContaining("'sh -c sleep " + marker)
                .hasMessageContaining("did not finish within 700 ms and was killed");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        assertThat(ProcessMarker.running(marker)).as("the command and its children are gone").isFalse();
    }

    @Test
    void a_command_that_never_reads_its_input_still_meets_its_timeout() {
        String marker = ProcessMarker.sleepSeconds();
        long t0 = System.nanoTime();
        // 4 MB of input, far more than a pipe holds: writing it all first would block forever
        assertThatThrownBy(() -> ProcessRunner.of("sleep", marker).input("x".repeat(4 << 20))
                .timeout(Duration.ofMillis(500)).run())
                .isInstanceOf(ProcessRunner.TimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void a_command_writing_a_lot_does_not_block_and_its_output_is_capped() throws Exception {
        // 8 MB through the pipe, far more than a pipe buffer; only the first 64 KiB are kept
        ProcessRunner.Result r = ProcessRunner.of("sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' a; echo done >&2")
                .outputLimit(64 * 1024).timeout(Duration.ofSeconds(60)).run();
        assertThat(r.exitCode()).isZero();
        assertThat(r.output()).hasSize(64 * 1024);
        assertThat(r.outputChars()).isEqualTo(8_000_005);
        assertThat(r.truncated()).isTrue();
    }

    @Test
    void stdin_environment_and_directory_reach_the_command(@TempDir Path dir) throws Exception {
        ProcessRunner.Result r = ProcessRunner.of("sh", "-c", "cat; echo \"$MVO_X-${HOME:-nohome}\"; pwd")
                .scrubbedEnvironment().environment(Map.of("MVO_X", "x1")).input("in\n").directory(dir)
                .timeout(Duration.ofSeconds(30)).run().orThrow();
        assertThat(r.output()).isEqualTo("in\nx1-nohome\n" + dir.toRealPath() + "\n");
    }

    @Test
    void a_failing_command_names_itself_and_its_output() {
        assertThatThrownBy(() -> ProcessRunner.of("sh", "-c", "echo broken; exit 3").timeout(Duration.ofSeconds(30)).run().orThrow())
                .hasMessage("'sh -c echo broken; exit 3' failed (exit 3): broken");
    }

    @Test
    void a_command_leaving_a_daemon_behind_returns_when_it_exits(@TempDir Path dir) throws Exception {
        Path pid = dir.resolve("pid");
        long t0 = System.nanoTime();
        ProcessRunner.of("sh", "-c", "sleep 30 & echo $! > " + pid).discardOutput()
                .timeout(Duration.ofSeconds(20)).run().orThrow();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        long daemon = Long.parseLong(Files.readString(pid).strip());
        assertThat(ProcessHandle.of(daemon)).isPresent(); // not killed: it finished in time
        ProcessHandle.of(daemon).ifPresent(ProcessHandle::destroyForcibly);
    }
}
