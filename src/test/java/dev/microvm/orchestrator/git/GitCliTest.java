package dev.microvm.orchestrator.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microvm.orchestrator.util.ProcessRunner;
import dev.microvm.orchestrator.testing.ProcessMarker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GitCliTest {

    @Test
    void a_hung_git_is_killed_by_its_timeout(@TempDir Path dir) throws Exception {
        assumeTrue(GitCli.isAvailable(), "git not installed");
        String marker = ProcessMarker.sleepSeconds();
        long t0 = System.nanoTime();
        // git starts the ssh command and waits on it; the "ssh" never answers
        assertThatThrownBy(() -> GitCli.run(dir, List.of("-c", "core.sshCommand=sleep " + marker + " #",
                "ls-remote", "ssh://git.example.invalid/repo"), Duration.ofSeconds(1)))
                .isInstanceOf(ProcessRunner.TimeoutException.class)
                .hasMessageContaining("ls-remote ssh://git.example.invalid/repo")
                .hasMessageContaining("did not finish within 1 s and was killed");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
        assertThat(ProcessMarker.running(marker)).as("git and the command it started are gone").isFalse();
    }

    @Test
    void a_failing_git_command_says_what_failed(@TempDir Path dir) {
        assumeTrue(GitCli.isAvailable(), "git not installed");
        assertThatThrownBy(() -> GitCli.runOrThrow(dir, List.of("read-tree", "--reset", "-u", "HEAD")))
                .hasMessageContaining("git read-tree --reset -u HEAD failed (128)");
    }
}
