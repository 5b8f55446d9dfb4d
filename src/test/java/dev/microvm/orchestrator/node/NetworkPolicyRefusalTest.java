package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.DriverCapabilities;
import dev.microvm.orchestrator.vm.NetworkSupport;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A network policy the host's driver cannot enforce is refused when the task is submitted — no
 * record, no slot, no VM — with a message that names the policy, why, and what the host enforces.
 */
class NetworkPolicyRefusalTest {

    @TempDir Path tmp;

    private NodeFixture node(dev.microvm.orchestrator.vm.HypervisorDriver driver, JsonObject extra) throws Exception {
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, driver.name(), tmp.resolve("no-guest"), 1).merge(extra, "test");
        Path repo = GitRepos.create(tmp.resolve("project"));
        new RepoRegistry(new StatePaths(state), Clock.systemUTC()).allow(repo, "project");
        return NodeFixture.start(state, config, driver);
    }

    @Test
    void vfkitRefusesAllowlistBeforeAnyVmStarts() throws Exception {
        try (NodeFixture f = node(new VfkitDriver(VfkitOptions.defaults()), new JsonObject())) {
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "allowlist").put("agent_command", "true")))
                    .isInstanceOf(ExecutionException.class)
                    .hasMessageContaining("network 'allowlist' cannot be enforced here")
                    .hasMessageContaining("vfkit's NAT cannot be restricted")
                    .hasMessageContaining("This host enforces: api-only, full, none");
            assertThat(Files.list(new StatePaths(tmp.resolve("state")).root().resolve("tasks")).count()).isZero();
        } catch (java.nio.file.NoSuchFileException noTasksDirectory) {
            // no task directory at all: nothing was created either
        }
    }

    @Test
    void aDefaultNetworkTheDriverCannotEnforceIsRefusedToo() throws Exception {
        try (NodeFixture f = node(new VfkitDriver(VfkitOptions.defaults()), new JsonObject().put("default_network", "allowlist"))) {
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("agent_command", "true")))
                    .hasMessageContaining("network 'allowlist' cannot be enforced here");
        }
    }

    /** QEMU without root cannot enforce full: a task that names no policy runs under the stricter allowlist. */
    @Test
    void aDefaultFullTheHostCannotEnforceBecomesTheStricterAllowlistButAnExplicitFullIsRefused() throws Exception {
        var withoutFull = new ProcessDriver() {
            @Override
            public DriverCapabilities capabilities() {
                return super.capabilities().withNetworks(NetworkSupport.of(java.util.Map.of("allowlist", "egress proxy", "api-only", "restrict", "none", "no NIC"),
                        java.util.Map.of("full", "it needs root")));
            }
        };
        try (NodeFixture f = node(withoutFull, new JsonObject())) {
            JsonObject task = f.submit("project", "do it", new JsonObject().put("agent_command", "true"));
            JsonObject record = f.request(dev.microvm.orchestrator.node.Addresses.TASK_GET, new JsonObject().put("task_id", task.getString("task_id")));
            assertThat(record.getJsonObject("options").getString("network")).isEqualTo("allowlist");
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "full").put("agent_command", "true")))
                    .hasMessageContaining("network 'full' cannot be enforced here: it needs root");
        }
    }

    @Test
    void allowedDomainsAreValidatedAndOnlyMeanSomethingUnderAllowlist() throws Exception {
        try (NodeFixture f = node(new ProcessDriver(), new JsonObject())) {
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "full")
                    .put("allowed_domains", new JsonArray().add("example.com")).put("agent_command", "true")))
                    .hasMessageContaining("allowed_domains applies to network allowlist only");
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "allowlist")
                    .put("allowed_domains", new JsonArray().add("10.0.0.1")).put("agent_command", "true")))
                    .hasMessageContaining("is an IP address");
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "allowlist")
                    .put("allowed_domains", new JsonArray().add("*.")).put("agent_command", "true")))
                    .hasMessageContaining("is not a domain name");
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("network", "allowlist")
                    .put("allowed_domains", "example.com").put("agent_command", "true")))
                    .hasMessageContaining("option 'allowed_domains' must be a list of non-empty strings (got \"example.com\")");
        }
    }
}
