package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class AllowCommandTest {

    @TempDir Path tmp;

    private String stderrOf(Runnable body) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(saved);
        }
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void repositoryDefaultsFromTheCommandLineAreCheckedByTheTaskOptionsSchemaAndStored() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("repo"));
        Path state = tmp.resolve("state");
        int[] code = new int[1];
        String err = stderrOf(() -> code[0] = Main.run("allow", repo.toString(), "--alias", "demo", "--network", "open", "--state-dir", state.toString()));
        assertThat(code[0]).isEqualTo(2);
        assertThat(err).contains("error: repository demo: repository setting 'network' must be one of full, allowlist, api-only, none (got \"open\")");
        assertThat(new RepoRegistry(new StatePaths(state), Clock.systemUTC()).list()).as("nothing registered").isEmpty();

        assertThat(Main.run("allow", repo.toString(), "--alias", "demo", "--merge-strategy", "Branch", "--network", "allowlist",
                "--allow-domain", "registry.npmjs.org", "--state-dir", state.toString())).isZero();
        JsonObject defaults = new RepoRegistry(new StatePaths(state), Clock.systemUTC()).resolve("demo").defaults();
        assertThat(defaults).isEqualTo(new JsonObject().put("merge_strategy", "branch").put("network", "allowlist")
                .put("allowed_domains", new JsonArray().add("registry.npmjs.org")));

        String ip = stderrOf(() -> code[0] = Main.run("allow", repo.toString(), "--alias", "demo", "--allow-domain", "10.0.0.1",
                "--state-dir", state.toString()));
        assertThat(code[0]).isEqualTo(2);
        assertThat(ip).contains("'10.0.0.1' is an IP address");
    }
}
