package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.secrets.ApiProxyConfig;
import dev.microvm.orchestrator.secrets.ApiProxyVerticle;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.CredentialKind;
import dev.microvm.orchestrator.secrets.EgressProxyVerticle;
import dev.microvm.orchestrator.secrets.Redactor;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.testing.TestInternet;
import dev.microvm.orchestrator.vm.Drivers;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Network allowlist in a real VM: the guest has no route out but its credential proxy and its
 * egress proxy; through the latter it reaches a domain on its list (from config.json, from the
 * repository's setting in the state directory, from the task) over plain HTTP and CONNECT, and
 * nothing else. Each refusal arrives as a network.denied event naming the task and the host; a
 * listed domain that resolves to the host is refused too; a file in the repository that lists more
 * domains changes nothing.
 */
@Tag("vm")
class AllowlistNetworkVmTest {

    @TempDir Path tmp;

    private static String via(String label, String request, String expect) {
        return "if printf '" + request + "' | timeout 15 nc -w 5 10.0.2.101 3128 | grep -q '" + expect + "'; then echo " + label
                + "=yes; else echo " + label + "=no; fi >> net.txt; ";
    }

    @Test
    void anAllowlistGuestReachesListedDomainsThroughTheEgressProxyAndNothingElse() throws Exception {
        TestInternet.require(false);
        try (FakeUpstream api = new FakeUpstream(); TestInternet internet = TestInternet.start(tmp)) {
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("allowed_domains", new JsonArray().add("config.test")));
            new RepoRegistry(state.paths, Clock.systemUTC()).setDefaults("project",
                    new JsonObject().put("allowed_domains", new JsonArray().add("*.repo.test")));
            // the repository asks for more; nothing on the host reads it
            Files.writeString(state.repo.resolve(".microvm-orchestrator.json"), "{\"allowed_domains\": [\"blocked.test\", \"*.test\"]}\n");
            GitRepos.git(state.repo, "add", ".microvm-orchestrator.json");
            GitRepos.git(state.repo, "commit", "-q", "-m", "Ask for a wider allowlist");
            Map<String, String> names = Map.of("config.test", internet.serverAddress, "api.repo.test", internet.serverAddress,
                    "task.test", internet.serverAddress, "blocked.test", internet.serverAddress, "host.test", internet.hostAddress);
            EgressProxyVerticle.Resolver resolver = host -> {
                String a = names.get(host);
                if (a == null) throw new UnknownHostException(host);
                return InetAddress.getByName(a);
            };
            OrchestratorConfig config = OrchestratorConfig.load(state.paths);
            String id;
            try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
                ApiProxyVerticle proxy = new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:" + api.port())),
                        new Credential(CredentialKind.API_KEY, Secret.of("sk-ant-api03-allowlist-test"), "test"),
                        f.node.events(), Redactor.global());
                f.node.vertx().deployVerticle(proxy).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                f.node.vertx().deployVerticle(new EgressProxyVerticle(resolver)).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                String port = ":" + internet.port;
                String probes = "rm -f net.txt; "
                        + "echo \"proxy_vars=$HTTP_PROXY $HTTPS_PROXY no=$NO_PROXY\" >> net.txt; "
                        // busybox wget ignores NO_PROXY: -Y off goes straight to the credential proxy, as Claude Code does through NO_PROXY
                        + "if timeout 15 wget -Y off -q -O /dev/null --header \"x-api-key: $ANTHROPIC_API_KEY\" --post-data '{\"model\":\"m\",\"max_tokens\":1,\"stream\":false,\"messages\":[]}' \"$ANTHROPIC_BASE_URL/v1/messages\"; then echo api=yes; else echo api=no; fi >> net.txt; "
                        + via("config_http", "GET http://config.test" + port + "/ HTTP/1.0\\r\\nHost: config.test\\r\\n\\r\\n", internet.marker)
                        + via("repo_http", "GET http://api.repo.test" + port + "/ HTTP/1.0\\r\\nHost: api.repo.test\\r\\n\\r\\n", internet.marker)
                        + via("task_connect", "CONNECT task.test" + port + " HTTP/1.1\\r\\nHost: task.test" + port + "\\r\\n\\r\\nGET / HTTP/1.0\\r\\n\\r\\n", internet.marker)
                        + via("blocked_http", "GET http://blocked.test" + port + "/ HTTP/1.0\\r\\nHost: blocked.test\\r\\n\\r\\n", "403")
                        + via("blocked_connect", "CONNECT blocked.test:443 HTTP/1.1\\r\\nHost: blocked.test:443\\r\\n\\r\\n", "403")
                        + via("host_http", "GET http://host.test" + port + "/ HTTP/1.0\\r\\nHost: host.test\\r\\n\\r\\n", "403")
                        + "if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 15 nc -w 5 " + internet.serverAddress + " " + internet.port
                        + " | grep -q " + internet.marker + "; then echo direct=yes; else echo direct=no; fi >> net.txt; "
                        + "git add net.txt && git commit -q -m 'Network probe allowlist'";
                id = f.submit("project", "probe the network", new JsonObject().put("network", "allowlist")
                        .put("allowed_domains", new JsonArray().add("task.test")).put("agent_command", probes)).getString("task_id");
                JsonObject info = f.request(dev.microvm.orchestrator.node.Addresses.TASK_GET, new JsonObject().put("task_id", id));
                assertThat(info.getString("network")).isEqualTo("allowlist");
                assertThat(info.getJsonArray("allowed_domains").getList()).containsExactlyInAnyOrder("config.test", "*.repo.test", "task.test");
                JsonObject listed = f.request(dev.microvm.orchestrator.node.Addresses.TASK_LIST, new JsonObject()).getJsonArray("tasks").getJsonObject(0);
                assertThat(listed.getString("network")).isEqualTo("allowlist");
                assertThat(info.getJsonObject("options").getJsonArray("allowed_domains").getList())
                        .containsExactlyInAnyOrder("config.test", "*.repo.test", "task.test");
                JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(3));
                assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            }
            String seen = Files.readString(state.repo.resolve("net.txt"));
            assertThat(seen).contains("proxy_vars=http://10.0.2.101:3128 http://10.0.2.101:3128 no=10.0.2.100,", "api=yes",
                    "config_http=yes", "repo_http=yes", "task_connect=yes",
                    "blocked_http=yes", "blocked_connect=yes", "host_http=yes", "direct=no");
            List<TaskEvent> denied = new EventLog(state.paths.eventLog(), Clock.systemUTC()).readAfter(0, 10_000).stream()
                    .filter(e -> EventTypes.NETWORK_DENIED.equals(e.type())).toList();
            assertThat(denied).allSatisfy(e -> assertThat(e.taskId()).isEqualTo(id));
            assertThat(denied).extracting(e -> e.data().getString("host") + ":" + e.data().getInteger("port") + " " + e.data().getString("method"))
                    .containsExactlyInAnyOrder("blocked.test:" + internet.port + " GET", "blocked.test:443 CONNECT", "host.test:" + internet.port + " GET");
            assertThat(api.received).extracting(FakeUpstream.Received::path).containsExactly("/v1/messages");
        }
    }
}
