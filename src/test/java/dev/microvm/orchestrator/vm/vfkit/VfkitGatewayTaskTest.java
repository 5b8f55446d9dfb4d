package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.secrets.ApiProxyConfig;
import dev.microvm.orchestrator.secrets.ApiProxyVerticle;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.CredentialKind;
import dev.microvm.orchestrator.secrets.Redactor;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.DetachedSpawner;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A task under {@code full} on a vfkit node, through the node's own steps: the guest is told the
 * vmnet gateway, and once the VM runs the credential proxy listens there and serves the task's
 * placeholder. The vfkit simulator (its host guest) runs the runner on this host, and the gateway is played by 127.0.0.2
 * (the vfkit simulator's tests have a real bridge in a network namespace).
 */
class VfkitGatewayTaskTest {
    static final String REAL_KEY = "sk-ant-api03-REAL-gateway-canary-9e1d";
    @TempDir Path tmp;

    private VfkitDriver driver(List<VmnetGateway.Interface> interfaces) throws Exception {
        return new VfkitDriver(new VfkitOptions(VfkitSimulator.install(tmp.resolve("bin")).toString(), false, tmp.toString()),
                new DetachedSpawner(), Duration.ofSeconds(10), new VmnetGateway(() -> interfaces, Optional::empty));
    }

    private static <T> T await(io.vertx.core.Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void theAgentReachesTheProxyOnTheGatewayWithItsPlaceholderAndTheRealKeyStaysOnTheHost() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "vfkit", VfkitNodeTaskTest.arm64Image(tmp.resolve("guest")), 1);
        VfkitDriver driver = driver(List.of(new VmnetGateway.Interface("bridge100", true, List.of("127.0.0.2"))));
        try (NodeFixture f = NodeFixture.start(state, config, driver)) {
            List<String> keysSeen = new CopyOnWriteArrayList<>();
            HttpServer upstream = await(f.node.vertx().createHttpServer().requestHandler(req -> req.body().onSuccess(b -> {
                keysSeen.add(req.getHeader("x-api-key"));
                req.response().putHeader("content-type", "application/json").end(new JsonObject().put("type", "message")
                        .put("content", new JsonArray().add(new JsonObject().put("type", "text").put("text", "from upstream")))
                        .put("usage", new JsonObject().put("input_tokens", 3).put("output_tokens", 2)).encode());
            })).listen(0, "127.0.0.1"));
            await(f.node.vertx().deployVerticle(new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0,
                    URI.create("http://127.0.0.1:" + upstream.actualPort())), new Credential(CredentialKind.API_KEY, Secret.of(REAL_KEY), "test"),
                    f.node.events(), new Redactor())));
            f.node.repos().allow(repo, "project");
            String agent = "curl -sS -m 20 -X POST \"$ANTHROPIC_BASE_URL/v1/messages\" -H \"x-api-key: $ANTHROPIC_API_KEY\""
                    + " -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01'"
                    + " -d '{\"model\":\"m\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' > reply.txt"
                    + " && echo \"$ANTHROPIC_BASE_URL\" > url.txt && git add reply.txt url.txt && git commit -qm api";
            JsonObject task = f.submit("project", "call the API", new JsonObject().put("network", "full").put("agent_command", agent));
            String id = task.getString("task_id");
            JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(90));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getJsonObject("prepared").getJsonObject("api_listener")).isEqualTo(new JsonObject().put("address", "127.0.0.2"));
            int port = done.getJsonObject("prepared").getInteger("proxy_port");
            assertThat(GitRepos.git(repo, "show", "refs/tasks/" + id + ":url.txt")).isEqualTo("http://127.0.0.2:" + port);
            assertThat(GitRepos.git(repo, "show", "refs/tasks/" + id + ":reply.txt")).contains("from upstream").doesNotContain(REAL_KEY);
            assertThat(keysSeen).containsExactly(REAL_KEY);
            // the task's end closed the gateway listener
            assertThat(dev.microvm.orchestrator.testing.ListeningSockets.addresses(port)).doesNotContain("127.0.0.2");
        }
    }

    @Test
    void withoutAVmnetGatewayAFullTaskFailsNamingTheMissingRouteInsteadOfGuessingAnAddress() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "vfkit", VfkitNodeTaskTest.arm64Image(tmp.resolve("guest")), 1);
        try (NodeFixture f = NodeFixture.start(state, config, driver(List.of(new VmnetGateway.Interface("en0", true, List.of("10.9.9.9")))))) {
            await(f.node.vertx().deployVerticle(new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:9")),
                    new Credential(CredentialKind.API_KEY, Secret.of(REAL_KEY), "test"), f.node.events(), new Redactor())));
            f.node.repos().allow(repo, "project");
            JsonObject task = f.submit("project", "call the API", new JsonObject().put("network", "full").put("agent_command", "true"));
            JsonObject done = f.awaitTerminal(task.getString("task_id"), Duration.ofSeconds(60));
            assertThat(done.getString("status")).isEqualTo("failed");
            assertThat(done.getString("reason")).isEqualTo("no_api_route");
        }
    }
}
