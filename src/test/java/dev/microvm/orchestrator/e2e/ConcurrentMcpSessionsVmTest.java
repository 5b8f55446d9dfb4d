package dev.microvm.orchestrator.e2e;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static dev.microvm.orchestrator.e2e.McpHarness.call;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two Claude Code sessions, two MCP server processes, one state directory: each session's
 * wait_next_event reports its own task and only that, and neither event is lost.
 */
@Tag("vm")
class ConcurrentMcpSessionsVmTest {

    @TempDir Path tmp;

    private static JsonArray script(String file) {
        JsonArray s = new JsonArray();
        s.add(call("run_task", new JsonObject().put("repo", "project").put("description", "write " + file)
                .put("agent_command", "echo " + file + " > " + file + " && git add " + file + " && git commit -q -m 'Add " + file + "'"))
                .put("save", "t"));                                                                             // 0
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 200_000)).put("timeout_ms", 210_000)); // 1
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 3_000)));                              // 2
        s.add(call("list_tasks", new JsonObject().put("status", "finished")));                                  // 3
        return s;
    }

    @Test
    void eachSessionIsToldAboutItsOwnTaskExactlyOnceAndBothCommitsLand() throws Exception {
        E2eState state = E2eState.create(tmp, 2, null);
        Process a = McpHarness.launch(tmp.resolve("a"), script("a.txt"), state.root, Map.of("CLAUDE_CODE_SESSION_ID", "session-a"));
        Process b = McpHarness.launch(tmp.resolve("b"), script("b.txt"), state.root, Map.of("CLAUDE_CODE_SESSION_ID", "session-b"));
        McpHarness.Run runA = McpHarness.collect(a, tmp.resolve("a"), 300);
        McpHarness.Run runB = McpHarness.collect(b, tmp.resolve("b"), 300);
        String why = runA.describe() + "\n=== B ===\n" + runB.describe();
        assertThat(runA.summary().getInteger("failed")).as(why).isZero();
        assertThat(runB.summary().getInteger("failed")).as(why).isZero();

        for (McpHarness.Run run : new McpHarness.Run[]{runA, runB}) {
            String own = run.step(0).getJsonObject("structured").getString("task_id");
            JsonObject event = run.step(1).getJsonObject("structured");
            assertThat(event.getString("task_id")).as(why).isEqualTo(own);
            assertThat(event.getString("status")).as(why).isEqualTo("completed");
            assertThat(event.getJsonObject("merge_result").getBoolean("merged")).as(why).isTrue();
            JsonObject second = run.step(2).getJsonObject("structured");
            assertThat(second.getString("task_id")).as("the other session's task is never reported here: " + why).isNull();
            assertThat(second.getBoolean("no_running_tasks", false) || second.getBoolean("timeout", false)).as(why).isTrue();
        }
        String taskA = runA.step(0).getJsonObject("structured").getString("task_id");
        String taskB = runB.step(0).getJsonObject("structured").getString("task_id");
        assertThat(taskA).isNotEqualTo(taskB);
        assertThat(state.git("log", "--format=%s", "main").lines().toList()).as(why).contains("Add a.txt", "Add b.txt", "initial");
        assertThat(state.git("status", "--porcelain")).isEmpty();
        // both sessions' cursors were committed in the shared log: every completed event exactly once
        long completed = java.nio.file.Files.readAllLines(state.paths.eventLog()).stream()
                .map(JsonObject::new).filter(e -> "task.state".equals(e.getString("type"))
                        && "completed".equals(e.getJsonObject("data").getString("state"))).count();
        assertThat(completed).isEqualTo(2);
        assertThat(CrashSupport.anyQemuFor(state.root)).as("no QEMU left running").isFalse();
    }
}
