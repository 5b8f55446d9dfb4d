package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.secrets.ApiProxyConfig;
import dev.microvm.orchestrator.secrets.ApiProxyVerticle;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.CredentialKind;
import dev.microvm.orchestrator.secrets.Redactor;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A task with network "api-only" reaches the API through the credential proxy and nothing else:
 * not a service on the host (10.0.2.2), not an outside address. A task with full network, run
 * side by side with the same probe, reaches the API too but not the host's loopback either.
 */
@Tag("vm")
class ApiOnlyNetworkVmTest {

    @TempDir Path tmp;

    /** busybox wget's own -T option crashes (SIGSEGV) in the Debian static build; timeout(1) bounds it instead. */
    private static String probe(String label, int hostPort) {
        return "probe() { if timeout 15 wget -q -O /dev/null \"$@\" 2>>wget-" + label + ".log; then echo reached; else echo blocked; fi; }; "
                + "f=net-" + label + ".txt; "
                + "echo \"api=$(probe --header \"x-api-key: $ANTHROPIC_API_KEY\" "
                + "--post-data '{\"model\":\"m\",\"max_tokens\":1,\"stream\":false,\"messages\":[]}' \"$ANTHROPIC_BASE_URL/v1/messages\")\" > $f; "
                + "echo \"host=$(probe http://10.0.2.2:" + hostPort + "/probe-" + label + ")\" >> $f; "
                + "echo \"outside=$(probe http://1.1.1.1/)\" >> $f; "
                + "touch wget-" + label + ".log; git add $f wget-" + label + ".log && git commit -q -m 'Network probe " + label + "'";
    }

    @Test
    void anApiOnlyGuestReachesTheProxyButNeitherTheHostNorTheOutside() throws Exception {
        try (FakeUpstream api = new FakeUpstream(); FakeUpstream hostService = new FakeUpstream()) {
            E2eState state = E2eState.create(tmp, 2, new JsonObject());
            OrchestratorConfig config = OrchestratorConfig.load(state.paths);
            try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
                ApiProxyVerticle proxy = new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:" + api.port())),
                        new Credential(CredentialKind.API_KEY, Secret.of("sk-ant-api03-network-test"), "test"),
                        f.node.events(), Redactor.global());
                f.node.vertx().deployVerticle(proxy).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);

                String restricted = f.submit("project", "probe the network", new JsonObject()
                        .put("network", "api-only").put("agent_command", probe("api-only", hostService.port()))).getString("task_id");
                String open = f.submit("project", "probe the network", new JsonObject()
                        .put("network", "full").put("agent_command", probe("full", hostService.port()))).getString("task_id");
                for (String id : new String[]{restricted, open}) {
                    JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(3));
                    assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
                }
            }
            String apiOnly = Files.readString(state.repo.resolve("net-api-only.txt"));
            String full = Files.readString(state.repo.resolve("net-full.txt"));
            String why = "api-only:\n" + apiOnly + Files.readString(state.repo.resolve("wget-api-only.log"))
                    + "full:\n" + full + Files.readString(state.repo.resolve("wget-full.log")) + "api calls: " + api.received + "\nhost calls: " + hostService.received;
            assertThat(apiOnly).as(why).contains("api=reached", "host=blocked", "outside=blocked");
            assertThat(full).as(why).contains("api=reached", "host=blocked");
            assertThat(hostService.received).as("nothing reaches the host's loopback, under either policy").isEmpty();
            assertThat(api.received).extracting(FakeUpstream.Received::path).containsExactly("/v1/messages", "/v1/messages");
            assertThat(CrashSupport.anyQemuFor(state.root)).as("no QEMU left running").isFalse();
        }
    }
}
