package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static dev.microvm.orchestrator.mcp.McpHarness.call;
import static dev.microvm.orchestrator.mcp.McpHarness.steps;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The server as a separate process, driven over stdio by the official TypeScript MCP client
 * (npm {@code @modelcontextprotocol/sdk}), which also validates structured results against the
 * advertised output schemas. The node behind the event bus is scripted.
 */
class McpOverStdioTest {

    @TempDir Path work;

    @BeforeAll
    static void nodeIsThere() {
        boolean ok = McpHarness.available();
        if ("true".equals(System.getenv("CI"))) assertThat(ok).as("node must be installed on CI").isTrue();
        assumeTrue(ok, "node is not installed");
    }

    @Test
    void every_tool_answers_a_real_client_and_a_task_completion_arrives_with_progress() throws Exception {
        Path state = Files.createDirectories(work.resolve("state"));
        JsonObject script = new JsonObject()
                .put("env", new JsonObject().put("CLAUDE_CODE_SESSION_ID", "harness-1").put(McpSettings.PROGRESS_ENV, "200"))
                .put("steps", steps(
                        new JsonObject().put("list_tools", true),
                        call("list_repos", new JsonObject()),
                        call("list_slots", new JsonObject()),
                        call("run_task", new JsonObject().put("description", "[ms=1500] write docs").put("repo", "demo")
                                .put("timeout_seconds", 300)).put("save", "t1"),
                        call("get_task_info", new JsonObject().put("task_id", "${t1.task_id}")),
                        call("get_task_logs", new JsonObject().put("task_id", "${t1.task_id}").put("tail", 10)),
                        call("list_tasks", new JsonObject().put("status", "running")),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000)),
                        call("get_task_diff", new JsonObject().put("task_id", "${t1.task_id}")),
                        call("merge_task", new JsonObject().put("task_id", "${t1.task_id}").put("strategy", "auto")),
                        call("continue_task", new JsonObject().put("task_id", "${t1.task_id}").put("prompt", "[hold] more")).put("save", "t2"),
                        call("cancel_task", new JsonObject().put("task_id", "${t2.task_id}")),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000)),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000)),
                        call("cleanup_task", new JsonObject().put("task_id", "${t1.task_id}").put("delete_ref", true)),
                        call("run_task", new JsonObject().put("description", "x").put("repo", "unregistered")).put("expect", "error"),
                        call("get_task_info", new JsonObject().put("task_id", "no-such-task")).put("expect", "error")));

        McpHarness.Run run = McpHarness.finish(McpHarness.start(script, McpHarness.scriptedServerCommand(state), work));

        assertThat(run.exitCode()).as(run.lines().toString()).isZero();
        assertThat(run.summary().getInteger("failed")).isZero();
        JsonArray tools = run.step(0).getJsonArray("tools");
        Set<String> called = run.lines().stream().map(l -> l.getString("call")).filter(c -> c != null).collect(Collectors.toSet());
        assertThat(called).containsExactlyInAnyOrderElementsOf(tools.stream().map(t -> ((JsonObject) t).getString("name")).toList());
        String t1 = run.step(3).getJsonObject("structured").getString("task_id");
        JsonObject completion = run.step(7);
        assertThat(completion.getJsonObject("structured").getString("task_id")).isEqualTo(t1);
        assertThat(completion.getJsonObject("structured").getString("event")).isEqualTo("completed");
        assertThat(completion.getJsonObject("structured").getJsonObject("merge_result").getString("status")).isEqualTo("merged");
        assertThat(completion.getInteger("progress")).as("progress notifications while waiting").isGreaterThanOrEqualTo(2);
        assertThat(run.step(12).getJsonObject("structured").getString("event")).isEqualTo("cancelled");
        assertThat(run.step(13).getJsonObject("structured").getBoolean("no_running_tasks")).isTrue();
        assertThat(run.step(15).getString("text")).contains("microvm-orchestrator allow PATH");
    }

    @Test
    void two_concurrent_sessions_each_receive_exactly_their_own_events() throws Exception {
        Path state = Files.createDirectories(work.resolve("state"));
        Process a = McpHarness.start(session("session-a", 400, 1600), McpHarness.scriptedServerCommand(state), work);
        Process b = McpHarness.start(session("session-b", 900, 1200), McpHarness.scriptedServerCommand(state), work);
        McpHarness.Run runA = McpHarness.finish(a);
        McpHarness.Run runB = McpHarness.finish(b);

        assertOwnEventsOnly(runA);
        assertOwnEventsOnly(runB);
    }

    private static JsonObject session(String sessionId, int firstMs, int secondMs) {
        return new JsonObject()
                .put("env", new JsonObject().put("CLAUDE_CODE_SESSION_ID", sessionId).put(McpSettings.PROGRESS_ENV, "500"))
                .put("steps", steps(
                        call("run_task", new JsonObject().put("description", "[ms=" + firstMs + "] first").put("repo", "demo")).put("save", "t1"),
                        call("run_task", new JsonObject().put("description", "[ms=" + secondMs + "] second").put("repo", "demo")).put("save", "t2"),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000)),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000)),
                        call("wait_next_event", new JsonObject().put("timeout_ms", 30000))));
    }

    private static void assertOwnEventsOnly(McpHarness.Run run) {
        assertThat(run.exitCode()).as(run.lines().toString()).isZero();
        Set<String> started = Set.of(run.step(0).getJsonObject("structured").getString("task_id"),
                run.step(1).getJsonObject("structured").getString("task_id"));
        List<String> delivered = List.of(run.step(2).getJsonObject("structured").getString("task_id"),
                run.step(3).getJsonObject("structured").getString("task_id"));
        assertThat(delivered).containsExactlyInAnyOrderElementsOf(started);
        assertThat(run.step(4).getJsonObject("structured").getBoolean("no_running_tasks")).isTrue();
    }
}
