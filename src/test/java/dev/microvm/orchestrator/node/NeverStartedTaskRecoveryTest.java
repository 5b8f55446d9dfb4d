package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A process that accepted a task and ended before it spawned the VM (a one-shot client's server,
 * killed while the task was STARTING) leaves a record without a VM handle. Nothing ran, so the
 * adopting process starts the task instead of failing it as a lost VM.
 */
class NeverStartedTaskRecoveryTest {

    @TempDir Path tmp;

    @Test
    void aStartingTaskWhoseVmNeverStartedIsStartedOnRecoveryAndCompletes() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        StatePaths paths = new StatePaths(state);
        TaskOptions options = TaskOptions.fromJson(new JsonObject()
                .put("agent_command", "echo later > later.txt && git add later.txt && git commit -qm 'after recovery'"));
        TaskRecord orphan = TaskRecord.queued("t-neverstarted", "project", repo.toString(), "one-shot", "caller-x", "gone-node",
                        options, null, "2026-01-01T00:00:00Z")
                .moveTo(TaskState.STARTING, "2026-01-01T00:00:01Z").withSlot(0);
        new TaskStore(paths).save(orphan);

        try (NodeFixture f = NodeFixture.start(state, NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1), new ProcessDriver())) {
            f.node.repos().allow(repo, "project");
            JsonObject done = f.awaitTerminal(orphan.id(), Duration.ofSeconds(90));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "main")).isEqualTo("after recovery");
        }
    }
}
