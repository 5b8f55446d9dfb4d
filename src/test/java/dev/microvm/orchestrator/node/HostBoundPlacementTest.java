package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.task.TaskPlacement;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cluster choice for secrets: a task whose repository the host granted secrets to (or set an
 * environment for) is never offered to the placement, so it runs where its secrets are; other
 * tasks are.
 */
class HostBoundPlacementTest {

    @TempDir Path tmp;

    @Test
    void tasksOfARepositoryWithHostSecretsAreNeverOfferedToTheClusterPlacement() throws Exception {
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        List<String> offered = new CopyOnWriteArrayList<>();
        TaskPlacement spy = new TaskPlacement() {
            @Override
            public Future<Optional<TaskRecord>> place(TaskRecord record) {
                offered.add(record.repo());
                return Future.succeededFuture(Optional.empty()); // runs here after all
            }

            @Override
            public Future<Boolean> follow(TaskRecord record) {
                return Future.succeededFuture(false);
            }
        };
        Vertx vertx = Vertx.vertx();
        Node node = Node.start(vertx, new StatePaths(state), new Node.Options(config, new ProcessDriver(), "test-node", Clock.systemUTC(),
                UnaryOperator.identity(), Optional::empty).withPlacement(spy)).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        try (NodeFixture f = NodeFixture.of(node)) {
            f.node.repos().allow(GitRepos.create(tmp.resolve("plain")), "plain");
            f.node.repos().allow(GitRepos.create(tmp.resolve("secretive")), "secretive");
            new RepoSecrets(new StatePaths(state)).set("secretive", "TOKEN", Secret.of("token-0123456789"), false);
            String a = f.submit("plain", "x", new JsonObject().put("agent_command", "true")).getString("task_id");
            String b = f.submit("secretive", "x", new JsonObject().put("agent_command", "true")).getString("task_id");
            assertThat(f.awaitTerminal(a, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
            assertThat(f.awaitTerminal(b, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
            assertThat(offered).containsExactly("plain");
        }
    }
}
