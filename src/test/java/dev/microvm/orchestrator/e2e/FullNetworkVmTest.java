package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.cluster.DaemonChannelVerticle;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.stream.EventStreamOptions;
import dev.microvm.orchestrator.stream.EventStreamVerticle;
import dev.microvm.orchestrator.secrets.ApiProxyConfig;
import dev.microvm.orchestrator.secrets.ApiProxyVerticle;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.CredentialKind;
import dev.microvm.orchestrator.secrets.Redactor;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.testing.TestInternet;
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
 * Network full, the default, seen from inside a real VM: the credential proxy and the "internet"
 * (a server in a network namespace the test creates) answer, names resolve through a DNS server out
 * there, and nothing of the host does — not a server on its loopback, not the orchestrator's
 * dashboard or daemon channel, not the host's address on the link to that "internet".
 */
@Tag("vm")
class FullNetworkVmTest {

    @TempDir Path tmp;

    private static String probe(String label, String address, int port, String expect) {
        return "if printf 'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' | timeout 10 nc -w 5 " + address + " " + port + " | grep -q '" + expect + "';"
                + " then echo " + label + "=reached; else echo " + label + "=blocked; fi >> net.txt; ";
    }

    @Test
    void aFullGuestReachesTheInternetAndTheApiButNothingOnTheHost() throws Exception {
        TestInternet.require(true);
        try (FakeUpstream api = new FakeUpstream(); FakeUpstream loopbackService = new FakeUpstream();
             TestInternet internet = TestInternet.start(tmp)) {
            internet.serveDns();
            com.sun.net.httpserver.HttpServer everywhere = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("0.0.0.0", 0), 0);
            everywhere.createContext("/", ex -> {
                ex.sendResponseHeaders(200, -1);
                ex.close();
            });
            everywhere.start();
            // from the host, that server does answer on the host's address on the link
            try (java.net.Socket s = new java.net.Socket(internet.hostAddress, everywhere.getAddress().getPort())) {
                assertThat(s.isConnected()).isTrue();
            }
            E2eState state = E2eState.create(tmp, 1, new JsonObject());
            OrchestratorConfig config = OrchestratorConfig.load(state.paths);
            try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
                ApiProxyVerticle proxy = new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:" + api.port())),
                        new Credential(CredentialKind.API_KEY, Secret.of("sk-ant-api03-full-network-test"), "test"),
                        f.node.events(), Redactor.global());
                EventStreamVerticle dashboard = new EventStreamVerticle(EventStreamOptions.loopback(0), state.paths);
                DaemonChannelVerticle channel = new DaemonChannelVerticle(state.paths, "full-net-test");
                for (var v : new io.vertx.core.Deployable[]{proxy, dashboard, channel}) {
                    f.node.vertx().deployVerticle(v).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                }
                assertThat(dashboard.port()).isPositive();
                assertThat(channel.port()).isPositive();
                // the dashboard answers anything over HTTP (401 without its token), the channel speaks
                // its own framing: "reached" for them is any byte back
                String probes = "rm -f net.txt; "
                        + "if timeout 15 wget -q -O /dev/null --header \"x-api-key: $ANTHROPIC_API_KEY\" --post-data '{\"model\":\"m\",\"max_tokens\":1,\"stream\":false,\"messages\":[]}' \"$ANTHROPIC_BASE_URL/v1/messages\"; then echo api=reached; else echo api=blocked; fi >> net.txt; "
                        + probe("internet", internet.serverAddress, internet.port, internet.marker)
                        + probe("loopback", "10.0.2.2", loopbackService.port(), "HTTP")
                        + probe("dashboard", "10.0.2.2", dashboard.port(), "HTTP")
                        + "if printf 'hello\\n' | timeout 10 nc -w 5 10.0.2.2 " + channel.port() + " | head -c 1 | grep -q .; then echo channel=reached; else echo channel=blocked; fi >> net.txt; "
                        + probe("link", internet.hostAddress, everywhere.getAddress().getPort(), "HTTP")
                        + "if nslookup anything.example " + internet.serverAddress + " 2>&1 | grep -q 'Address.*" + internet.serverAddress + "$'; then echo dns=resolved; else echo dns=failed; fi >> net.txt; "
                        + "git add net.txt && git commit -q -m 'Network probe full'";
                String id = f.submit("project", "probe the network", new JsonObject().put("network", "full").put("agent_command", probes)).getString("task_id");
                JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(3));
                assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            }
            everywhere.stop(0);
            String seen = Files.readString(state.repo.resolve("net.txt"));
            assertThat(seen).contains("api=reached", "internet=reached", "dns=resolved",
                    "loopback=blocked", "dashboard=blocked", "channel=blocked", "link=blocked");
            assertThat(loopbackService.received).isEmpty();
            assertThat(api.received).extracting(FakeUpstream.Received::path).containsExactly("/v1/messages");
        }
    }
}
