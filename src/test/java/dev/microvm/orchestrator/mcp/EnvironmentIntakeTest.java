package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.TaskEvent;
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
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * run_task and continue_task over MCP against a real node (process driver): a repository whose
 * {@code .microvm/environment.json} prepare would refuse gets a tool error naming what to fix, and
 * no task record or event exists afterwards.
 */
class EnvironmentIntakeTest {

    @TempDir Path tmp;

    @Test
    void aMalformedFileOrAnUngrantedSecretIsRefusedByTheToolCallAndAValidFileStillRuns() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        StatePaths paths = new StatePaths(state);
        try (NodeFixture f = NodeFixture.start(state, NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1), new ProcessDriver());
             PipedMcpClient client = new PipedMcpClient()) {
            f.node.repos().allow(repo, "project");
            McpSettings settings = new McpSettings(paths, "session-env", client.serverIn, client.serverOut, Duration.ofMillis(100),
                    Duration.ofMillis(100), Duration.ofSeconds(20), Duration.ofSeconds(5), "test");
            f.node.vertx().deployVerticle(new McpVerticle(settings, () -> {})).await();
            client.initialize();

            String malformed = commitEnvironment(repo, "{\"setup\": \"make\"}");
            JsonObject refused = client.callTool("run_task", run("x"));
            assertThat(refused.getBoolean("isError")).as(refused.encode()).isTrue();
            assertThat(text(refused)).contains("[environment_invalid]").contains(".microvm/environment.json")
                    .contains("at commit " + malformed.substring(0, 12)).contains("setup");

            commitEnvironment(repo, "{\"env\": {\"GREETING\": \"hi\"}, \"secrets\": [\"NPM_TOKEN\"]}");
            JsonObject ungranted = client.callTool("run_task", run("x"));
            assertThat(ungranted.getBoolean("isError")).as(ungranted.encode()).isTrue();
            assertThat(text(ungranted)).contains("[environment_invalid]").contains("NPM_TOKEN")
                    .contains("microvm-orchestrator secret set NPM_TOKEN --repo project");
            assertThat(listedTasks(client)).as("no task was created").isEmpty();
            assertThat(f.node.store().loadAll()).isEmpty();
            assertThat(tasksWithEvents(paths)).as("no event names a task").isEmpty();

            // granted: the task runs; its agent commits a malformed file, kept under refs/tasks only (merge none)
            new RepoSecrets(paths).set("project", "NPM_TOKEN", Secret.of("npm-token-0123456789"), false);
            JsonObject accepted = client.callTool("run_task", run("mkdir -p .microvm && echo '{\"setup\": 1}' > .microvm/environment.json"
                    + " && git add -A && git commit -qm edited").put("merge_strategy", "none"));
            assertThat(accepted.getBoolean("isError")).as(accepted.encode()).isFalse();
            String first = accepted.getJsonObject("structuredContent").getString("task_id");
            assertThat(f.awaitTerminal(first, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");

            // a follow-up reads the environment at the original task's base, not the agent's edit
            JsonObject followUp = client.callTool("continue_task", new JsonObject().put("task_id", first).put("prompt", "again")
                    .put("agent_command", "true"));
            assertThat(followUp.getBoolean("isError")).as(followUp.encode()).isFalse();
            String second = followUp.getJsonObject("structuredContent").getString("task_id");
            assertThat(f.awaitTerminal(second, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");

            new RepoSecrets(paths).remove("project", "NPM_TOKEN");
            JsonObject revoked = client.callTool("continue_task", new JsonObject().put("task_id", first).put("prompt", "once more")
                    .put("agent_command", "true"));
            assertThat(revoked.getBoolean("isError")).as(revoked.encode()).isTrue();
            assertThat(text(revoked)).contains("[environment_invalid]").contains("secret set NPM_TOKEN --repo project");
            assertThat(listedTasks(client)).containsExactlyInAnyOrder(first, second);
            assertThat(tasksWithEvents(paths)).containsExactlyInAnyOrder(first, second);
        }
    }

    private static JsonObject run(String agentCommand) {
        return new JsonObject().put("repo", "project").put("description", "x").put("agent_command", agentCommand);
    }

    private static String commitEnvironment(Path repo, String json) throws Exception {
        Files.createDirectories(repo.resolve(".microvm"));
        Files.writeString(repo.resolve(".microvm/environment.json"), json);
        GitRepos.git(repo, "add", "-A");
        GitRepos.git(repo, "commit", "-q", "-m", "environment");
        return GitRepos.git(repo, "rev-parse", "HEAD").strip();
    }

    private static List<String> listedTasks(PipedMcpClient client) throws Exception {
        JsonObject listed = client.callTool("list_tasks", new JsonObject());
        assertThat(listed.getBoolean("isError")).as(listed.encode()).isFalse();
        return listed.getJsonObject("structuredContent").getJsonArray("tasks").stream()
                .map(t -> ((JsonObject) t).getString("task_id")).toList();
    }

    private static Set<String> tasksWithEvents(StatePaths paths) {
        if (!Files.exists(paths.eventLog())) return Set.of();
        return new EventLog(paths.eventLog(), Clock.systemUTC()).readAfter(0, 100_000).stream()
                .map(TaskEvent::taskId).filter(id -> id != null && !id.isEmpty()).collect(Collectors.toSet());
    }

    private static String text(JsonObject result) {
        return result.getJsonArray("content").getJsonObject(0).getString("text");
    }
}
