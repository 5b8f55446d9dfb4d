package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class AllowCommandTest {

    @TempDir Path tmp;

    private Path repo() throws Exception {
        Path p = tmp.resolve("project");
        Files.createDirectories(p.resolve(".git"));
        return p;
    }

    private RepoRegistry registry() {
        return new RepoRegistry(new StatePaths(tmp.resolve("state")), Clock.systemUTC());
    }

    /** Runs the command with stderr captured. */
    private static String[] run(String... args) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new String[]{String.valueOf(code), err.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(saved);
        }
    }

    @Test
    void anInvalidDefaultIsRefusedWithAClearErrorAndNothingIsRegistered() throws Exception {
        String[] out = run("allow", repo().toString(), "--merge-strategy", "yolo", "--state-dir", tmp.resolve("state").toString());
        assertThat(out[0]).isEqualTo("2");
        assertThat(out[1]).contains("error:").contains("merge_strategy must be one of");
        assertThat(registry().list()).isEmpty();

        out = run("allow", repo().toString(), "--network", "everything", "--state-dir", tmp.resolve("state").toString());
        assertThat(out[0]).isEqualTo("2");
        assertThat(out[1]).contains("network");
        assertThat(registry().list()).isEmpty();
    }

    @Test
    void validDefaultsAreKeptWithTheRepository() throws Exception {
        String[] out = run("allow", repo().toString(), "--alias", "p", "--merge-strategy", "branch", "--network", "api-only",
                "--state-dir", tmp.resolve("state").toString());
        assertThat(out[0]).isEqualTo("0");
        RepoRegistry.Repo r = registry().resolve("p");
        assertThat(r.defaults().getString("merge_strategy")).isEqualTo("branch");
        assertThat(r.defaults().getString("network")).isEqualTo("api-only");
    }
}
