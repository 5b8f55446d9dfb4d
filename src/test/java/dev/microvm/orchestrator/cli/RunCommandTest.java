package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code run} as a user runs it (its own process, the process driver). */
class RunCommandTest {

    @TempDir Path tmp;

    @Test
    void aMalformedEnvironmentFileIsRefusedWithTheFileAndFieldNamedAndNoTaskExists() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Files.createDirectories(repo.resolve(".microvm"));
        Files.writeString(repo.resolve(".microvm/environment.json"), "{\"setup\": \"make\"}");
        GitRepos.git(repo, "add", "-A");
        GitRepos.git(repo, "commit", "-q", "-m", "a malformed environment");
        String commit = GitRepos.git(repo, "rev-parse", "HEAD").strip();
        Path state = tmp.resolve("state");
        StatePaths paths = new StatePaths(state);
        Files.createDirectories(state);
        Files.writeString(paths.configFile(), new JsonObject().put("driver", "process").put("slots", 1).put("http_port", 0)
                .put("guest_dir", tmp.resolve("no-guest").toString()).encode());
        new RepoRegistry(paths, Clock.systemUTC()).allow(repo, "project");

        Process run = JavaProcess.builder(Main.class, "run", "--state-dir", state.toString(), "--repo", "project",
                "--agent-command", "true", "do nothing").redirectErrorStream(true).start();
        assertThat(run.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String out = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(run.exitValue()).as(out).isEqualTo(2);
        assertThat(out).contains("error: [environment_invalid] .microvm/environment.json at commit " + commit.substring(0, 12))
                .contains("setup").doesNotContain("submitted");
        assertThat(new TaskStore(paths).loadAll()).isEmpty();
    }
}
