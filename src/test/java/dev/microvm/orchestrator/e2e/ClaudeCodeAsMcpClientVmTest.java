package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.testing.ClaudeCode;
import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Claude Code on the host is the MCP client, as for a user: it starts {@code microvm-orchestrator
 * mcp} from an MCP config, calls {@code run_task} with no agent_command, then
 * {@code wait_next_event}, and receives the completed, merged task — run by Claude Code inside
 * the VM. Both Claude Codes talk to one scripted Messages API. As root the host Claude Code cannot
 * use --dangerously-skip-permissions, so it is given --allowedTools.
 */
@Tag("vm")
class ClaudeCodeAsMcpClientVmTest {

    @TempDir Path tmp;

    @Test
    void claudeCodeOnTheHostHandsATaskToClaudeCodeInAVmAndGetsTheMergedResult() throws Exception {
        Path claude = ClaudeCode.binary();
        String canary = "sk-ant-api03-canary-" + UUID.randomUUID();
        JsonArray scenarios = new JsonArray()
                .add(ScriptedUpstream.scenario("SCENARIO-HOST",
                        new JsonObject().put("tool", "mcp__microvm__run_task").put("input", new JsonObject()
                                .put("repo", "project").put("description", "SCENARIO-COMMIT: add hello.txt and commit it")),
                        new JsonObject().put("tool", "mcp__microvm__wait_next_event").put("input", new JsonObject().put("timeout_ms", 240_000)),
                        ScriptedUpstream.text("The microVM task is merged.")))
                .add(ScriptedUpstream.scenario("SCENARIO-COMMIT",
                        ScriptedUpstream.bash("echo hello from the vm > hello.txt && git add hello.txt && git commit -q -m 'Add hello.txt'"),
                        ScriptedUpstream.text("Committed hello.txt.")));
        try (ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios)) {
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("guest_dir", TestGuest.agent().dir.toString())
                    .put("vm_cpus", 2).put("vm_memory_mib", 2048).put("api_upstream", upstream.url()));
            Path mcpConfig = tmp.resolve("mcp.json");
            Files.writeString(mcpConfig, new JsonObject().put("mcpServers", new JsonObject().put("microvm", new JsonObject()
                    .put("type", "stdio").put("command", JavaProcess.javaBinary())
                    .put("args", new JsonArray().add("-XX:TieredStopAtLevel=1").add("-cp").add(JavaProcess.classpath())
                            .add("dev.microvm.orchestrator.cli.Main").add("mcp").add("--state-dir").add(state.root.toString()))
                    .put("env", new JsonObject().put("MICROVM_ORCHESTRATOR_MCP_PROGRESS_MS", "5000")))).encodePrettily());
            Path home = Files.createDirectories(tmp.resolve("home"));
            ProcessBuilder pb = new ProcessBuilder(claude.toString(), "-p", "SCENARIO-HOST: hand the task to a microVM",
                    "--output-format", "stream-json", "--verbose", "--mcp-config", mcpConfig.toString(), "--strict-mcp-config",
                    "--allowedTools", "mcp__microvm__run_task,mcp__microvm__wait_next_event")
                    .directory(state.repo.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            ClaudeCode.headless(pb, home, upstream.url(), canary);
            pb.environment().put("ENABLE_TOOL_SEARCH", "false");
            pb.environment().put("MCP_TIMEOUT", "60000");
            Path out = tmp.resolve("claude.out");
            pb.redirectErrorStream(true).redirectOutput(out.toFile());
            Process p = pb.start();
            boolean ended = p.waitFor(400, TimeUnit.SECONDS);
            if (!ended) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String output = Files.readString(out);
            assertThat(ended).as(output).isTrue();
            assertThat(p.exitValue()).as(output).isZero();

            // the wait_next_event tool result Claude Code received: the completed, merged task
            List<JsonObject> lines = output.lines().filter(l -> l.startsWith("{")).map(JsonObject::new).toList();
            String toolResults = lines.stream().filter(l -> "user".equals(l.getString("type"))).map(JsonObject::encode)
                    .reduce("", String::concat);
            assertThat(toolResults).as(output).contains("tool_result").contains("completed").contains("\\\"merged\\\":true");
            JsonObject result = lines.stream().filter(l -> "result".equals(l.getString("type"))).findFirst().orElseThrow();
            assertThat(result.getString("result")).isEqualTo("The microVM task is merged.");
            assertThat(state.git("log", "-1", "--format=%s", "main").strip()).isEqualTo("Add hello.txt");
            assertThat(state.git("show", "main:hello.txt").strip()).isEqualTo("hello from the vm");
            // the in-VM agent reached the upstream through the proxy, with the key the host Claude Code holds
            assertThat(upstream.scriptedCalls()).filteredOn(r -> "SCENARIO-COMMIT".equals(r.getString("scenario"))).hasSizeGreaterThanOrEqualTo(2)
                    .allSatisfy(r -> assertThat(r.getString("x-api-key-sha256")).isEqualTo(ScriptedUpstream.sha256(canary)));
        }
    }
}
