package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.testing.GitRepos;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code secret set|list|rm} and {@code allow --environment}, as a user runs them. */
class SecretAndEnvironmentCommandTest {

    @TempDir Path tmp;

    /** Runs the command with {@code stdin}; returns exit code, stdout and stderr. */
    private List<Object> run(String stdin, String... args) {
        InputStream savedIn = System.in;
        PrintStream savedOut = System.out, savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return List.of(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setIn(savedIn);
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @Test
    void secretsAreReadFromStdinListedByNameAndRemoved() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("repo"));
        String state = tmp.resolve("state").toString();
        assertThat(run("", "allow", repo.toString(), "--alias", "demo", "--state-dir", state).get(0)).isEqualTo(0);

        List<Object> set = run("s3cret-value-0123456789\n", "secret", "set", "NPM_TOKEN", "--repo", "demo", "--state-dir", state);
        assertThat(set.get(0)).as(set.toString()).isEqualTo(0);
        assertThat(set.toString()).doesNotContain("s3cret");
        assertThat(run("agent-value-0123456789", "secret", "set", "DEPLOY", "--repo", "demo", "--agent", "--state-dir", state).get(0)).isEqualTo(0);
        assertThat(new RepoSecrets(new StatePaths(Path.of(state))).release("demo", List.of("NPM_TOKEN")).getFirst().value().reveal())
                .as("one trailing newline is dropped").isEqualTo("s3cret-value-0123456789");

        List<Object> list = run("", "secret", "list", "--state-dir", state);
        assertThat((String) list.get(1)).contains("demo\tNPM_TOKEN\tsetup\n").contains("demo\tDEPLOY\tsetup+agent\n")
                .doesNotContain("value");

        List<Object> unknownRepo = run("v-0123456789", "secret", "set", "X", "--repo", "nope", "--state-dir", state);
        assertThat(unknownRepo.get(0)).isEqualTo(2);
        assertThat((String) unknownRepo.get(2)).contains("'nope' is not registered");

        assertThat(run("", "secret", "rm", "NPM_TOKEN", "--repo", "demo", "--state-dir", state).get(0)).isEqualTo(0);
        assertThat(new RepoSecrets(new StatePaths(Path.of(state))).list()).isEqualTo(Map.of("demo", Map.of("DEPLOY", true)));
        List<Object> again = run("", "secret", "rm", "NPM_TOKEN", "--repo", "demo", "--state-dir", state);
        assertThat(again.get(0)).isEqualTo(2);
        assertThat((String) again.get(2)).contains("has no secret NPM_TOKEN");
    }

    @Test
    void allowEnvironmentIsCheckedBeforeAnythingIsRegisteredAndStoredForTheRepository() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("repo"));
        String state = tmp.resolve("state").toString();
        Path bad = Files.writeString(tmp.resolve("bad.json"), "{\"setup\": \"make\"}");
        List<Object> refused = run("", "allow", repo.toString(), "--alias", "demo", "--environment", bad.toString(), "--state-dir", state);
        assertThat(refused.get(0)).isEqualTo(2);
        assertThat((String) refused.get(2)).contains(bad.toString()).contains("setup");
        assertThat(Files.exists(Path.of(state, "repos.json"))).as("nothing registered").isFalse();

        Path good = Files.writeString(tmp.resolve("env.json"), "{\"setup\": [\"make\"], \"env\": {\"CI\": \"1\"}}");
        List<Object> ok = run("", "allow", repo.toString(), "--alias", "demo", "--environment", good.toString(), "--state-dir", state);
        assertThat(ok.get(0)).as(ok.toString()).isEqualTo(0);
        assertThat(new HostEnvironments(new StatePaths(Path.of(state))).get("demo")).get()
                .satisfies(e -> assertThat(e.env()).containsEntry("CI", "1"));
    }
}
