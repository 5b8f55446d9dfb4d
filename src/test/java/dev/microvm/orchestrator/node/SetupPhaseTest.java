package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The setup phase through the real runner script on the host (process driver, no VM: no agent user,
 * so no process isolation here; EnvironmentSetupVmTest shows that in a VM): setup runs before the
 * agent with env and its secrets, the record and the task.setup event report it, a failing command
 * ends the task setup_failed and the agent never starts.
 */
class SetupPhaseTest {

    @TempDir Path tmp;

    @Test
    void setupRunsBeforeTheAgentAndAFailingCommandFailsTheTaskWithoutStartingTheAgent() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Files.createDirectories(repo.resolve(".microvm"));
        Files.writeString(repo.resolve(".microvm/environment.json"), new JsonObject()
                .put("setup", new io.vertx.core.json.JsonArray().add("echo \"$GREETING $TOKEN\" > .setup-out; echo setup-line"))
                .put("env", new JsonObject().put("GREETING", "hi")).put("secrets", new io.vertx.core.json.JsonArray().add("TOKEN")).encode());
        GitRepos.git(repo, "add", ".microvm");
        GitRepos.git(repo, "commit", "-q", "-m", "env");
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        try (NodeFixture f = NodeFixture.start(state, config, new ProcessDriver())) {
            f.node.repos().allow(repo, "project");
            new RepoSecrets(new StatePaths(state)).set("project", "TOKEN", Secret.of("tok-0123456789"), false);
            String agent = "cat .setup-out > seen.txt; echo \"agent: $GREETING [${TOKEN:-}]\" >> seen.txt; git add seen.txt && git commit -qm seen";
            String id = f.submit("project", "x", new JsonObject().put("agent_command", agent)).getString("task_id");
            JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(Files.readString(repo.resolve("seen.txt"))).isEqualTo("hi tok-0123456789\nagent: hi []\n");
            JsonObject setup = done.getJsonObject("prepared").getJsonObject("setup");
            assertThat(setup.getString("outcome")).isEqualTo("ok");
            assertThat(setup.getLong("duration_ms")).isNotNull().isNotNegative();
            assertThat(Files.readString(new StatePaths(state).taskIo(id).resolve("out/setup.log"))).contains("setup-line");
            assertThat(new StatePaths(state).taskIo(id).resolve("secrets.env")).doesNotExist();
            assertThat(Files.readString(new StatePaths(state).eventLog())).contains("\"task.setup\"").doesNotContain("tok-0123456789");

            Files.writeString(repo.resolve(".microvm/environment.json"), "{\"setup\": [\"true\", \"exit 7\"], \"secrets\": [\"TOKEN\"]}");
            GitRepos.git(repo, "commit", "-qam", "failing setup");
            String failing = f.submit("project", "x", new JsonObject().put("agent_command", "touch started; git add started; git commit -qm s"))
                    .getString("task_id");
            JsonObject failed = f.awaitTerminal(failing, Duration.ofSeconds(60));
            assertThat(failed.getString("reason")).as(failed.encodePrettily()).isEqualTo("setup_failed");
            assertThat(failed.getString("error")).contains("setup command 2 `exit 7` exited with code 7");
            assertThat(repo.resolve("started")).doesNotExist();
            assertThat(new StatePaths(state).taskIo(failing).resolve("out/agent.log")).doesNotExist();
        }
    }
}
