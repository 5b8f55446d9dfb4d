package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.stream.EventStreamOptions;
import dev.microvm.orchestrator.stream.EventStreamVerticle;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.DriverProbe;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.qemu.QemuDriver;
import dev.microvm.orchestrator.vm.qemu.QemuOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A node whose driver cannot boot a guest takes no new task: the submission fails naming the
 * problem before anything is created, and the node list says so; once the driver is healthy again
 * (checked every minute, or on request) tasks are taken again.
 */
class DriverHealthTest {
    @TempDir Path tmp;

    /** The process driver, with a problem a test sets and clears. */
    static final class SwitchableDriver extends ProcessDriver {
        volatile String problem;

        @Override
        public DriverProbe probe() {
            String p = problem; // read once: a test may clear it while a check runs
            return p == null ? super.probe() : DriverProbe.failed("sh", null, "none", p, Map.of());
        }
    }

    @Test
    void anUnhealthyNodeRefusesTasksBeforeCreatingAnythingAndShowsWhyUntilItIsHealthyAgain() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-image"), 1);
        SwitchableDriver driver = new SwitchableDriver();
        driver.problem = "the hypervisor binary is missing";
        try (NodeFixture f = NodeFixture.start(state, config, driver)) {
            f.node.repos().allow(repo, "project");

            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("agent_command", "true")))
                    .hasMessageContaining("this node's process driver cannot boot a guest: the hypervisor binary is missing")
                    .satisfies(e -> assertThat(TaskFailure.of(e, FailureReason.UNKNOWN).reason()).isEqualTo(FailureReason.DRIVER_UNHEALTHY));
            assertThat(f.node.store().loadAll()).as("no task was created").isEmpty();

            JsonObject listed = f.request(Addresses.NODE_LIST, new JsonObject()).getJsonArray("nodes").getJsonObject(0);
            assertThat(listed.getBoolean("healthy")).isFalse();
            assertThat(listed.getString("driver")).isEqualTo("process");
            assertThat(listed.getJsonObject("fingerprint").getString("detail")).isEqualTo("the hypervisor binary is missing");
            assertThat(listed.getJsonObject("fingerprint").getString("checked_at")).isNotBlank();
            assertThat(restNodes(f, state).getJsonArray("nodes").getJsonObject(0).getJsonObject("fingerprint").getBoolean("healthy")).isFalse();

            driver.problem = null;
            // a recheck on request brings it back at once
            JsonObject rechecked = f.request(Addresses.NODE_DRIVER, new JsonObject().put("recheck", true));
            assertThat(rechecked.getBoolean("healthy")).as(rechecked.encode()).isTrue();
            JsonObject task = f.submit("project", "do it", new JsonObject().put("agent_command", "true"));
            assertThat(f.awaitTerminal(task.getString("task_id"), Duration.ofSeconds(60)).getString("status")).isEqualTo("completed");
            assertThat(f.request(Addresses.NODE_LIST, new JsonObject()).getJsonArray("nodes").getJsonObject(0).getBoolean("healthy")).isTrue();
        }
    }

    /** A QEMU node whose configured guest image is missing cannot boot anything: unhealthy, whatever QEMU itself does. */
    @Test
    void aQemuNodeWithoutItsGuestImageIsUnhealthy() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", tmp.resolve("no-image"), 1);
        try (NodeFixture f = NodeFixture.start(state, config, new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG)))) {
            f.node.repos().allow(repo, "project");
            JsonObject fingerprint = f.request(Addresses.NODE_DRIVER, new JsonObject());
            assertThat(fingerprint.getBoolean("healthy")).isFalse();
            assertThat(fingerprint.getString("detail")).contains("guest image").contains("no-image");
            assertThat(fingerprint.getString("driver")).isEqualTo("qemu");
            assertThat(fingerprint.getJsonObject("capabilities").getBoolean("read_only_shares")).isTrue();
            assertThatThrownBy(() -> f.submit("project", "do it", new JsonObject().put("agent_command", "true")))
                    .hasMessageContaining("cannot boot a guest").hasMessageContaining("guest image")
                    .satisfies(e -> assertThat(TaskFailure.of(e, FailureReason.UNKNOWN).reason()).isEqualTo(FailureReason.DRIVER_UNHEALTHY));
            assertThat(f.node.store().loadAll()).isEmpty();
        }
    }

    /** GET /api/nodes as a script would, through the node's own event stream. */
    private static JsonObject restNodes(NodeFixture f, Path state) throws Exception {
        EventStreamVerticle stream = new EventStreamVerticle(EventStreamOptions.loopback(0), new StatePaths(state));
        f.node.vertx().deployVerticle(stream).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        String link = stream.dashboardLink();
        String token = link.substring(link.indexOf("token=") + 6);
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + stream.port() + "/api/nodes"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return new JsonObject(r.body());
    }
}
