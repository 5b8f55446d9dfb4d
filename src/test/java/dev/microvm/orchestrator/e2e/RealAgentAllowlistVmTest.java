package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real Claude Code in the agent image, started over MCP with network allowlist: it still talks to
 * the (scripted) Messages API through the credential proxy — NO_PROXY keeps that channel off the
 * egress proxy — and commits; a connection its Bash tool tries to a domain off the list is refused
 * by the egress proxy and arrives as a network.denied event naming the task.
 */
@Tag("vm")
class RealAgentAllowlistVmTest {

    @TempDir Path tmp;

    @Test
    void claudeCodeCompletesATaskUnderAllowlistAndItsRefusedAttemptIsRecorded() throws Exception {
        // bash's /dev/tcp speaks to the egress proxy the way any HTTPS client would start
        String tryOffList = "exec 3<>/dev/tcp/10.0.2.101/3128 && printf 'CONNECT off-list.example:443 HTTP/1.1\\r\\nHost: off-list.example:443\\r\\n\\r\\n' >&3"
                + " && head -c 12 <&3 > refused.txt; echo \"$HTTPS_PROXY|$NO_PROXY\" > proxy-env.txt"
                + " && git add refused.txt proxy-env.txt && git commit -q -m 'Try a domain off the list'";
        JsonArray scenarios = new JsonArray().add(ScriptedUpstream.scenario("SCENARIO-ALLOWLIST",
                ScriptedUpstream.bash(tryOffList), ScriptedUpstream.text("Tried it and committed.")));
        try (ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios)) {
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("guest_dir", TestGuest.agent().dir.toString())
                    .put("vm_cpus", 2).put("vm_memory_mib", 2048).put("api_upstream", upstream.url()));
            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project").put("network", "allowlist")
                            .put("allowed_domains", new JsonArray().add("registry.npmjs.org"))
                            .put("description", "SCENARIO-ALLOWLIST: try a domain off the list")).put("save", "t"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 240_000)).put("timeout_ms", 250_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${t.task_id}")))
                    .add(McpHarness.call("list_tasks", new JsonObject()));
            Process harness = McpHarness.launchWithPrivateEnv(tmp.resolve("harness"), steps, state.root,
                    Map.of("ANTHROPIC_API_KEY", "sk-ant-api03-allowlist-real-agent"));
            McpHarness.Run run = McpHarness.collect(harness, tmp.resolve("harness"), 400);
            String why = run.describe();
            assertThat(run.summary().getInteger("failed")).as(why).isZero();
            String id = run.step(0).getJsonObject("structured").getString("task_id");
            JsonObject done = run.step(1).getJsonObject("structured");
            assertThat(done.getString("status")).as(why).isEqualTo("completed");
            JsonObject info = run.step(2).getJsonObject("structured");
            assertThat(info.getString("network")).as(why).isEqualTo("allowlist");
            assertThat(info.getJsonArray("allowed_domains").getList()).as(why).containsExactly("registry.npmjs.org");
            assertThat(run.step(3).getJsonObject("structured").encode()).as(why).contains("\"network\":\"allowlist\"");

            assertThat(state.git("show", "main:refused.txt")).startsWith("HTTP/1.1 403");
            assertThat(state.git("show", "main:proxy-env.txt").strip()).isEqualTo("http://10.0.2.101:3128|10.0.2.100,localhost,127.0.0.1");
            assertThat(upstream.requests()).filteredOn(r -> "POST".equals(r.getString("method"))).hasSizeGreaterThanOrEqualTo(2);
            String events = Files.readString(state.paths.eventLog());
            assertThat(events.lines().filter(l -> l.contains("\"network.denied\""))).as(events)
                    .singleElement().satisfies(l -> assertThat(l).contains("\"task_id\":\"" + id + "\"", "off-list.example"));
        }
    }
}
