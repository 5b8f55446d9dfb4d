package dev.microvm.orchestrator.e2e;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.microvm.orchestrator.e2e.McpHarness.call;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every MCP tool, called by the official TypeScript MCP client over stdio against the real
 * {@code microvm-orchestrator mcp} process, with tasks running in real QEMU guests on a real
 * repository.
 */
@Tag("vm")
class McpEndToEndVmTest {

    @TempDir Path tmp;

    private static JsonObject commit(String file, String subject) {
        return new JsonObject().put("agent_command",
                "echo '" + subject + "' > " + file + " && git add " + file + " && git commit -q -m '" + subject + "'");
    }

    @Test
    void everyToolWorksOverStdioAgainstRealMicroVmsAndTheRepositoryEndsUpWithEveryCommit() throws Exception {
        E2eState state = E2eState.create(tmp, 2, null);
        String initial = state.git("rev-parse", "main");
        JsonArray s = new JsonArray();
        s.add(new JsonObject().put("list_tools", true));                                                     // 0
        s.add(call("list_repos", new JsonObject()));                                                          // 1
        s.add(call("run_task", commit("first.txt", "First task").put("repo", "project")
                .put("description", "write first.txt")).put("save", "t1"));                                    // 2
        s.add(call("run_task", new JsonObject().put("repo", "project").put("description", "run for a long time")
                .put("agent_command", "sleep 300")).put("save", "long"));                                     // 3
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000)); // 4
        s.add(call("get_task_info", new JsonObject().put("task_id", "${t1.task_id}")));                      // 5
        s.add(call("get_task_logs", new JsonObject().put("task_id", "${t1.task_id}")));                      // 6
        s.add(call("get_task_logs", new JsonObject().put("task_id", "${t1.task_id}").put("stream", "agent"))); // 7
        s.add(call("get_task_diff", new JsonObject().put("task_id", "${t1.task_id}")));                      // 8
        s.add(call("list_tasks", new JsonObject().put("status", "completed")));                             // 9
        s.add(call("list_tasks", new JsonObject().put("repo", "project")));                                 // 10
        s.add(call("list_tasks", new JsonObject().put("status", "active")));                                // 11
        s.add(call("list_slots", new JsonObject()));                                                          // 12
        s.add(call("run_task", commit("second.txt", "Second task").put("repo", "project")
                .put("description", "write second.txt").put("merge_strategy", "none")).put("save", "t2"));    // 13
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000)); // 14
        s.add(call("merge_task", new JsonObject().put("task_id", "${t2.task_id}")));                         // 15
        s.add(call("continue_task", commit("third.txt", "Follow-up").put("task_id", "${t1.task_id}")
                .put("prompt", "now write third.txt")).put("save", "t3"));                                   // 16
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000)); // 17
        s.add(call("cancel_task", new JsonObject().put("task_id", "${long.task_id}")));                      // 18
        s.add(call("wait_next_event", new JsonObject().put("timeout_ms", 120_000)).put("timeout_ms", 130_000)); // 19
        s.add(call("cleanup_task", new JsonObject().put("task_id", "${t2.task_id}").put("delete_ref", true))); // 20
        s.add(call("run_task", new JsonObject().put("repo", "nope").put("description", "x")
                .put("agent_command", "true")).put("expect", "error"));                                       // 21
        s.add(call("get_task_info", new JsonObject().put("task_id", "t-doesnotexist")).put("expect", "error")); // 22
        s.add(call("get_task_info", new JsonObject().put("task_id", "../../etc")).put("expect", "error"));    // 23
        s.add(call("get_task_logs", new JsonObject().put("task_id", "../x")).put("expect", "error"));         // 24
        s.add(call("list_slots", new JsonObject()));                                                          // 25

        McpHarness.Run run = McpHarness.run(tmp.resolve("harness"), s, state.root,
                Map.of("CLAUDE_CODE_SESSION_ID", "e2e-session"), 600);
        String why = run.describe();
        assertThat(run.summary().getInteger("failed")).as(why).isZero();
        assertThat(run.exitCode()).as(why).isZero();

        List<String> tools = run.step(0).getJsonArray("tools").stream().map(t -> ((JsonObject) t).getString("name")).toList();
        assertThat(tools).containsExactlyInAnyOrder("run_task", "continue_task", "get_task_info", "get_task_logs",
                "get_task_diff", "cleanup_task", "cancel_task", "merge_task", "list_repos", "list_tasks", "list_slots",
                "wait_next_event");
        assertThat(run.step(1).getJsonObject("structured").getJsonArray("repos").encode()).as(why).contains("project");

        String t1 = run.step(2).getJsonObject("structured").getString("task_id");
        String longTask = run.step(3).getJsonObject("structured").getString("task_id");
        String t2 = run.step(13).getJsonObject("structured").getString("task_id");
        String t3 = run.step(16).getJsonObject("structured").getString("task_id");

        JsonObject e1 = run.step(4).getJsonObject("structured");
        assertThat(e1.getString("task_id")).as(why).isEqualTo(t1);
        assertThat(e1.getString("status")).as(why).isEqualTo("completed");
        assertThat(e1.getJsonObject("merge_result").getBoolean("merged")).as(why).isTrue();

        assertThat(run.step(5).getJsonObject("structured").getString("status")).isEqualTo("completed");
        assertThat(run.step(5).getJsonObject("structured").getInteger("exit_code")).isZero();
        assertThat(run.step(6).getJsonObject("structured").getString("content")).as(why).contains("mvo-runner");
        assertThat(run.step(8).getJsonObject("structured").getString("diff")).as(why).contains("first.txt").contains("+First task");
        assertThat(ids(run.step(9))).as(why).containsExactly(t1);
        assertThat(ids(run.step(10))).as(why).containsExactlyInAnyOrder(t1, longTask);
        assertThat(ids(run.step(11))).as(why).containsExactly(longTask);
        assertThat(run.step(12).getJsonObject("structured").encode()).as(why).contains(longTask);

        JsonObject e2 = run.step(14).getJsonObject("structured");
        assertThat(e2.getString("task_id")).as(why).isEqualTo(t2);
        assertThat(e2.getString("status")).as(why).isEqualTo("completed");
        assertThat(run.step(15).getJsonObject("structured").encode()).as(why).contains("\"merged\":true");

        JsonObject e3 = run.step(17).getJsonObject("structured");
        assertThat(e3.getString("task_id")).as(why).isEqualTo(t3);
        assertThat(e3.getString("status")).as(why).isEqualTo("completed");

        JsonObject e4 = run.step(19).getJsonObject("structured");
        assertThat(e4.getString("task_id")).as(why).isEqualTo(longTask);
        assertThat(e4.getString("status")).as(why).isEqualTo("cancelled");

        assertThat(run.step(20).getJsonObject("structured").getBoolean("success")).as(why).isTrue();
        assertThat(run.step(21).getString("text")).as(why).contains("allow");
        assertThat(run.step(22).getString("text")).as(why).contains("t-doesnotexist");
        assertThat(run.step(25).getJsonObject("structured").getJsonArray("active", new JsonArray())).as(why).isEmpty();

        // the real repository: all three commits on main, the follow-up on top, nothing lost
        assertThat(state.git("log", "--format=%s", "main").lines().toList()).as(why)
                .startsWith("Follow-up").contains("First task", "Second task", "initial");
        assertThat(state.git("merge-base", "--is-ancestor", initial, "main")).isEmpty();
        assertThat(Files.readString(state.repo.resolve("third.txt"))).isEqualTo("Follow-up\n");
        assertThat(Files.readString(state.repo.resolve("second.txt"))).isEqualTo("Second task\n");
        assertThat(state.git("status", "--porcelain")).isEmpty();
        assertThat(state.git("for-each-ref", "--format=%(refname)", "refs/tasks/")).as("cleanup deleted t2's ref")
                .contains("refs/tasks/" + t1).doesNotContain("refs/tasks/" + t2);
        assertThat(state.git("fsck", "--no-progress")).doesNotContain("error");
        assertThat(ProcessHandle.allProcesses().anyMatch(ph -> ph.info().commandLine().orElse("").contains(state.root.toString())
                && ph.info().command().orElse("").contains("qemu"))).as("no QEMU left running").isFalse();
    }

    private static List<String> ids(JsonObject step) {
        return step.getJsonObject("structured").getJsonArray("tasks").stream().map(t -> ((JsonObject) t).getString("task_id")).toList();
    }
}
