package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The task lifecycle end to end on the process driver (fast; the QEMU path has its own tests). */
class TaskLifecycleTest {

    @TempDir Path tmp;
    private Path repo;
    private NodeFixture f;

    @BeforeEach
    void start() throws Exception {
        repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1);
        f = NodeFixture.start(state, config, new ProcessDriver());
        f.node.repos().allow(repo, "project");
    }

    @AfterEach
    void stop() throws Exception {
        f.close();
    }

    /** Agent prefix: wait until the test says go (instead of sleeping and hoping). */
    private String afterGo() {
        return "while [ ! -e '" + tmp.resolve("go") + "' ]; do sleep 0.1; done; ";
    }

    private void go() throws Exception {
        Files.writeString(tmp.resolve("go"), "");
    }

    private static void awaitFile(Path file) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(file)) {
            if (System.nanoTime() > deadline) throw new AssertionError("never appeared: " + file);
            Thread.sleep(50);
        }
    }

    private String submit(String agent, JsonObject extra) throws Exception {
        return f.submit("project", "task", extra.copy().put("agent_command", agent)).getString("task_id");
    }

    @Test
    void anAgentThatRunsPastItsTimeoutIsStoppedAndFailsWithReasonTimeout() throws Exception {
        String id = submit("echo x > x.txt && git add x.txt && git commit -qm early && sleep 120", new JsonObject().put("timeout_seconds", 2));
        JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
        assertThat(done.getString("status")).isEqualTo("failed");
        assertThat(done.getString("reason")).isEqualTo("timeout");
        assertThat(f.request(Addresses.SLOT_LIST, new JsonObject()).getJsonArray("active")).isEmpty();
    }

    @Test
    void everyConsoleLineOfATimedOutTaskReachesTheEventLog() throws Exception {
        String id = submit("seq 1 100000; sleep 120", new JsonObject().put("timeout_seconds", 1));
        assertThat(f.awaitTerminal(id, Duration.ofSeconds(60)).getString("reason")).isEqualTo("timeout");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (var e : f.node.events().log().readAfter(0, 100_000)) {
            if (id.equals(e.taskId()) && e.type().equals("task.log")) e.data().getJsonArray("lines").forEach(l -> seen.add((String) l));
        }
        for (int i = 1; i <= 100_000; i++) if (!seen.contains(Integer.toString(i))) throw new AssertionError("line " + i + " missing of " + seen.size());
    }

    @Test
    void cancellingARunningTaskKeepsItsCommitsOnTheTaskRefAndLeavesTheBranchAlone() throws Exception {
        String before = GitRepos.git(repo, "rev-parse", "main");
        Path committed = tmp.resolve("committed");
        String id = submit("echo x > x.txt && git add x.txt && git commit -qm 'work so far' && touch '" + committed + "' && sleep 120", new JsonObject());
        awaitFile(committed);
        f.request(Addresses.TASK_CANCEL, new JsonObject().put("task_id", id));
        JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
        assertThat(done.getString("status")).isEqualTo("cancelled");
        assertThat(GitRepos.git(repo, "rev-parse", "main")).isEqualTo(before);
        assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "refs/tasks/" + id)).isEqualTo("work so far");
        assertThat(done.getString("error")).contains("refs/tasks/" + id);
    }

    @Test
    void aQueuedTaskCanBeCancelledAndTheNextOneRunsWhenTheSlotFrees() throws Exception {
        String first = submit(afterGo() + "echo 1 > one.txt && git add one.txt && git commit -qm one", new JsonObject());
        String second = submit("echo 2 > two.txt && git add two.txt && git commit -qm two", new JsonObject());
        String third = submit("echo 3 > three.txt && git add three.txt && git commit -qm three", new JsonObject());
        f.awaitStatus(first, "running", Duration.ofSeconds(30));
        assertThat(f.request(Addresses.TASK_GET, new JsonObject().put("task_id", second)).getString("status")).isEqualTo("queued");
        f.request(Addresses.TASK_CANCEL, new JsonObject().put("task_id", second));
        assertThat(f.awaitTerminal(second, Duration.ofSeconds(30)).getString("status")).isEqualTo("cancelled");
        go();
        assertThat(f.awaitTerminal(first, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
        assertThat(f.awaitTerminal(third, Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
        assertThat(GitRepos.git(repo, "log", "--format=%s", "main")).contains("one").contains("three").doesNotContain("two");
    }

    @Test
    void aConflictingTaskFailsWithTheConflictingPathsAndItsCommitsKept() throws Exception {
        String id = submit(afterGo() + "echo agent > README.md && git commit -qam 'agent edit'", new JsonObject());
        f.awaitStatus(id, "running", Duration.ofSeconds(30));
        Files.writeString(repo.resolve("README.md"), "user\n");
        GitRepos.git(repo, "commit", "-qam", "user edit");
        go();
        String userTip = GitRepos.git(repo, "rev-parse", "main");
        JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
        assertThat(done.getString("status")).isEqualTo("failed");
        assertThat(done.getJsonObject("merge_result").getJsonArray("conflicts").encode()).contains("README.md");
        assertThat(GitRepos.git(repo, "rev-parse", "main")).isEqualTo(userTip);
        assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "refs/tasks/" + id)).isEqualTo("agent edit");
    }

    @Test
    void uncommittedChangesTravelIntoTheTaskButAreNeverMergedBackAndStayInTheWorkingTree() throws Exception {
        Files.writeString(repo.resolve("README.md"), "hello\nuncommitted line\n");
        String id = submit("grep -q 'uncommitted line' README.md && echo seen > seen.txt && git add seen.txt && git commit -qm 'saw it'",
                new JsonObject().put("include_uncommitted", true));
        JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
        assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
        assertThat(GitRepos.git(repo, "log", "--format=%s", "main")).contains("saw it");
        assertThat(GitRepos.git(repo, "show", "main:README.md")).isEqualTo("hello");
        assertThat(Files.readString(repo.resolve("README.md"))).isEqualTo("hello\nuncommitted line\n");
        assertThat(Files.readString(repo.resolve("seen.txt"))).isEqualTo("seen\n");
    }
}
