package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The product's main job with every real part: a real MCP client drives a real
 * {@code microvm-orchestrator mcp}, which runs real Claude Code (the pinned native binary in the
 * default agent image) in a QEMU microVM as the unprivileged agent user. Claude Code talks to a
 * scripted Messages API through the credential proxy; the proxy holds a canary key, the guest only
 * a placeholder. One run shows: the default agent commits through its Bash tool and the commit is
 * merged; its stream-json progress reaches the WebSocket and wait_next_event's progress; a
 * continue_task turn builds on the task's commits; cancel_task during a turn ends the agent with
 * its commits kept on refs/tasks/&lt;id&gt;; usage metering counts every real request; the canary is
 * in no file, event or log.
 */
@Tag("vm")
class RealAgentVmTest {

    /** A line far longer than 64 KiB, recognisable at both ends. */
    private static final String LONG_LINE = "LONGLINE-BEGIN-" + "0123456789".repeat(10_000) + "-LONGLINE-END";

    @TempDir Path tmp;
    private Process harness;
    private final EventStreamTap stream = new EventStreamTap();

    @AfterEach
    void stop() {
        McpHarness.destroy(harness);
        stream.close();
    }

    @Test
    void claudeCodeInTheVmCommitsFollowsUpIsCancelledAndIsMetered() throws Exception {
        String canary = "sk-ant-api03-canary-" + UUID.randomUUID();
        JsonArray scenarios = new JsonArray()
                .add(ScriptedUpstream.scenario("SCENARIO-COMMIT",
                        // the Write tool call is one stream-json line of more than 100 KB
                        new JsonObject().put("tool", "Write").put("input", new JsonObject()
                                .put("file_path", "/workspace/big.txt").put("content", LONG_LINE + "\n")),
                        ScriptedUpstream.bash("whoami > author.txt && echo hello from claude > hello.txt"
                                + " && git add hello.txt author.txt big.txt && git commit -q -m 'Add hello.txt' && git log --oneline -1"),
                        ScriptedUpstream.text("Added hello.txt and committed it.").put("delay_seconds", 4)))
                .add(ScriptedUpstream.scenario("SCENARIO-FOLLOWUP",
                        ScriptedUpstream.bash("test -f hello.txt && echo second line >> hello.txt && git commit -qam 'Extend hello.txt'"),
                        ScriptedUpstream.text("Extended hello.txt.")))
                .add(ScriptedUpstream.scenario("SCENARIO-CANCEL",
                        ScriptedUpstream.bash("echo partial > partial.txt && git add partial.txt && git commit -q -m 'Partial work'"),
                        ScriptedUpstream.bash("echo MARK-SLEEPING; sleep 600"),
                        ScriptedUpstream.text("unreachable")));
        try (ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios)) {
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("guest_dir", TestGuest.agent().dir.toString())
                    .put("vm_cpus", 2).put("vm_memory_mib", 2048).put("api_upstream", upstream.url()).put("http_port", EventStreamTap.freePort()));
            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project")
                            .put("description", "SCENARIO-COMMIT: add hello.txt and commit it")).put("save", "t"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${t.task_id}")))
                    .add(McpHarness.call("get_task_logs", new JsonObject().put("task_id", "${t.task_id}").put("limit", 262_144)))
                    .add(McpHarness.call("continue_task", new JsonObject().put("task_id", "${t.task_id}")
                            .put("prompt", "SCENARIO-FOLLOWUP: extend hello.txt")).put("save", "c"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${c.task_id}")))
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project")
                            .put("description", "SCENARIO-CANCEL: commit, then work for a long time")).put("save", "k"))
                    .add(McpHarness.call("get_task_logs", new JsonObject().put("task_id", "${k.task_id}").put("tail", 400))
                            .put("until_contains", "MARK-SLEEPING").put("poll_ms", 1000).put("timeout_ms", 240_000))
                    .add(McpHarness.call("cancel_task", new JsonObject().put("task_id", "${k.task_id}")))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 120_000)).put("timeout_ms", 130_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${k.task_id}")));
            Path dir = tmp.resolve("harness");
            harness = McpHarness.launchWithPrivateEnv(dir, steps, state.root, Map.of("ANTHROPIC_API_KEY", canary));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
            while (harness.isAlive() && System.nanoTime() < deadline) {
                stream.tryConnect(dir.resolve("server.stderr"));
                Thread.sleep(300);
            }
            McpHarness.Run run = McpHarness.collect(harness, dir, 30);
            String why = run.describe();
            assertThat(run.summary().getInteger("failed")).as(why).isZero();
            String first = run.step(0).getJsonObject("structured").getString("task_id");
            String followUp = run.step(4).getJsonObject("structured").getString("task_id");
            String cancelled = run.step(7).getJsonObject("structured").getString("task_id");

            // the default agent committed through its Bash tool, as the agent user, and the commit was merged
            JsonObject done = run.step(1).getJsonObject("structured");
            assertThat(done.getString("task_id")).as(why).isEqualTo(first);
            assertThat(done.getString("status")).as(why).isEqualTo("completed");
            assertThat(state.git("show", "main:author.txt").strip()).isEqualTo("agent");
            JsonObject info = run.step(2).getJsonObject("structured");
            assertThat(info.encode()).as(why).contains("\"success\":true").contains("Added hello.txt");

            // live progress from the agent's stream-json: on the WebSocket and in wait_next_event's progress
            assertThat(run.step(1).getJsonArray("progress_messages").encode()).as(why).contains("task " + first + ": ").contains("tool uses");
            assertThat(stream.text()).as("WebSocket frames").contains("task.progress").contains(first);
            assertThat(Files.readString(state.paths.eventLog())).contains("\"task.progress\"");

            // a stream-json line of more than 100 KB went through the console, the events and get_task_logs whole
            String console = Files.readString(state.paths.taskConsoleLog(first));
            int longest = console.lines().filter(l -> l.contains("LONGLINE-BEGIN")).mapToInt(String::length).max().orElse(0);
            assertThat(longest).as("the console line carrying the Write call").isGreaterThan(100_000);
            assertThat(reassembledLogLines(state, first)).as("task.log events, continued entries joined")
                    .anySatisfy(l -> assertThat(l).contains(LONG_LINE).hasSizeGreaterThan(100_000));
            assertThat(run.step(3).encode()).as("get_task_logs").contains(LONG_LINE);
            assertThat(state.git("show", "main:big.txt").strip()).isEqualTo(LONG_LINE);

            // the follow-up ran a real second turn on top of the first task's commits
            JsonObject followed = run.step(5).getJsonObject("structured");
            assertThat(followed.getString("task_id")).as(why).isEqualTo(followUp);
            assertThat(followed.getString("status")).as(why).isEqualTo("completed");
            assertThat(state.git("show", "main:hello.txt").strip()).isEqualTo("hello from claude\nsecond line");
            assertThat(state.git("log", "--format=%s", "main")).contains("Add hello.txt", "Extend hello.txt");

            // cancel during a real turn: the agent ended, its commit so far is kept on refs/tasks/<id>, not merged
            JsonObject stopped = run.step(10).getJsonObject("structured");
            assertThat(stopped.getString("task_id")).as(why).isEqualTo(cancelled);
            assertThat(stopped.getString("status")).as(why).isEqualTo("cancelled");
            assertThat(state.git("log", "-1", "--format=%s", "refs/tasks/" + cancelled).strip()).isEqualTo("Partial work");
            assertThat(state.git("log", "--format=%s", "main")).doesNotContain("Partial work");

            // the credential: the upstream saw only the canary; the guest got only a placeholder
            String canaryHash = ScriptedUpstream.sha256(canary);
            List<JsonObject> calls = upstream.scriptedCalls();
            assertThat(calls).as("scripted model turns").hasSizeGreaterThanOrEqualTo(6);
            assertThat(upstream.requests()).filteredOn(r -> "POST".equals(r.getString("method")))
                    .allSatisfy(r -> assertThat(r.getString("x-api-key-sha256")).isEqualTo(canaryHash));
            String taskEnv = Files.readString(state.paths.taskIo(first).resolve("task.env"));
            assertThat(taskEnv).contains("ANTHROPIC_API_KEY=").contains("ANTHROPIC_BASE_URL=").doesNotContain(canary);
            assertThat(CanaryKeyVmTest.filesHolding(tmp, canary)).as("files holding the canary").isEmpty();
            assertThat(stream.text()).doesNotContain(canary);
            assertThat(state.git("log", "-p", "--all")).doesNotContain(canary);

            // usage metering counted every request the agents made through the proxy
            long posted = upstream.requests().stream().filter(r -> "POST".equals(r.getString("method"))).count();
            long metered = 0;
            for (int step : new int[] {2, 6, 11}) {
                metered += run.step(step).getJsonObject("structured").getJsonObject("usage").getLong("requests", 0L);
            }
            assertThat(metered).as(why).isEqualTo(posted);
        }
    }

    /** The task's console lines as its task.log events carry them, entries listed in continues joined to the next. */
    private static List<String> reassembledLogLines(E2eState state, String taskId) throws Exception {
        List<String> lines = new java.util.ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String raw : Files.readAllLines(state.paths.eventLog())) {
            if (!raw.contains("\"task.log\"") || !raw.contains(taskId)) continue;
            JsonObject event = new JsonObject(raw);
            if (!"task.log".equals(event.getString("type")) || !taskId.equals(event.getString("task_id"))) continue;
            JsonObject data = event.getJsonObject("data");
            JsonArray entries = data.getJsonArray("lines");
            JsonArray continues = data.getJsonArray("continues", new JsonArray());
            for (int i = 0; i < entries.size(); i++) {
                current.append(entries.getString(i));
                if (!continues.contains(i)) {
                    lines.add(current.toString());
                    current.setLength(0);
                }
            }
        }
        if (!current.isEmpty()) lines.add(current.toString());
        return lines;
    }
}
