package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.DriverProbe;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** list_slots and run_task over MCP against a real node whose driver cannot boot a guest. */
class ListSlotsDriverTest {
    @TempDir Path tmp;

    @Test
    void listSlotsShowsTheDriversFingerprintAndRunTaskIsRefusedAsDriverUnhealthy() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-image"), 2);
        ProcessDriver broken = new ProcessDriver() {
            @Override
            public DriverProbe probe() {
                return DriverProbe.failed("sh", null, "none", "the accelerator does not open", Map.of());
            }
        };
        try (NodeFixture f = NodeFixture.start(state, config, broken); PipedMcpClient client = new PipedMcpClient()) {
            f.node.repos().allow(repo, "project");
            McpSettings settings = new McpSettings(new StatePaths(state), "session-x", client.serverIn, client.serverOut, Duration.ofMillis(100),
                    Duration.ofMillis(100), Duration.ofSeconds(20), Duration.ofSeconds(5), "test");
            f.node.vertx().deployVerticle(new McpVerticle(settings, () -> {})).await();
            client.initialize();

            JsonObject slots = client.callTool("list_slots", new JsonObject());
            assertThat(slots.getBoolean("isError")).isFalse();
            JsonObject structured = slots.getJsonObject("structuredContent");
            assertThat(structured.getInteger("max_slots")).isEqualTo(2);
            JsonObject fingerprint = structured.getJsonObject("fingerprint");
            assertThat(fingerprint.getBoolean("healthy")).isFalse();
            assertThat(fingerprint.getString("driver")).isEqualTo("process");
            assertThat(fingerprint.getString("detail")).isEqualTo("the accelerator does not open");
            assertThat(fingerprint.getJsonObject("capabilities").getBoolean("boots_images")).isFalse();

            JsonObject run = client.callTool("run_task", new JsonObject().put("repo", "project").put("description", "x").put("agent_command", "true"));
            assertThat(run.getBoolean("isError")).isTrue();
            assertThat(run.getJsonArray("content").getJsonObject(0).getString("text")).contains("driver_unhealthy").contains("the accelerator does not open");
            assertThat(f.node.store().loadAll()).isEmpty();
        }
    }
}
