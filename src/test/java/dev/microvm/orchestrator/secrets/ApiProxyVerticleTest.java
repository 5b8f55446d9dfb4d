package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Real HTTP on loopback: a client, the proxy, and a fake Messages API that records what it gets. */
class ApiProxyVerticleTest {

    static final String REAL_KEY = "sk-ant-api03-REAL-canary-key-5c1f0e9a7b3d";
    static final String REAL_OAUTH = "sk-ant-oat01-REAL-canary-oauth-2d4b6f8a0c";
    static final String REQUEST = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"say hello\"}]}";

    @TempDir Path tmp;
    private Vertx vertx;
    private FakeMessagesApi upstream;
    private EventLog eventLog;
    private ApiProxyVerticle proxy;
    private final List<JsonObject> published = new CopyOnWriteArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void setUp() throws Exception {
        vertx = Vertx.vertx();
        upstream = new FakeMessagesApi();
        eventLog = new EventLog(tmp.resolve("events/events.jsonl"), Clock.systemUTC());
        vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> published.add(m.body()));
    }

    @AfterEach
    void tearDown() throws Exception {
        await(vertx.close());
    }

    private void deployProxy(CredentialKind kind, String secret) throws Exception {
        int upstreamPort = upstream.start(vertx);
        var config = new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:" + upstreamPort));
        proxy = new ApiProxyVerticle(config, new Credential(kind, Secret.of(secret), "test"), new EventSink(vertx, eventLog), new Redactor());
        await(vertx.deployVerticle(proxy));
    }

    private JsonObject register(String taskId) throws Exception {
        return await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, new JsonObject().put("task_id", taskId))).body();
    }

    private HttpRequest.Builder post(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + pathAndQuery))
                .timeout(Duration.ofSeconds(20))
                .header("content-type", "application/json")
                .header("anthropic-version", "2023-06-01")
                .POST(HttpRequest.BodyPublishers.ofString(REQUEST));
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theUpstreamSeesTheRealKeyAndTheClientOnlyEverSeesThePlaceholder() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        JsonObject reg = register("task-1");
        String placeholder = reg.getString("token");
        assertThat(reg.getInteger("port")).isEqualTo(proxy.port());
        assertThat(placeholder).startsWith("sk-ant-api03-").isNotEqualTo(REAL_KEY);

        HttpResponse<String> resp = send(post("/v1/messages?beta=true").header("x-api-key", placeholder)
                .header("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"));

        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.body()).contains("event: message_start").contains("hello from the fake API").contains("event: message_stop");
        assertThat(resp.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
        assertThat(resp.body() + resp.headers().map()).doesNotContain(REAL_KEY);

        assertThat(upstream.received).hasSize(1);
        FakeMessagesApi.Received got = upstream.received.getFirst();
        assertThat(got.method()).isEqualTo("POST");
        assertThat(got.uri()).isEqualTo("/v1/messages?beta=true");
        assertThat(got.header("x-api-key")).isEqualTo(REAL_KEY);
        assertThat(got.header("authorization")).isNull();
        assertThat(got.header("anthropic-beta")).isEqualTo("claude-code-20250219,interleaved-thinking-2025-05-14");
        assertThat(got.header("anthropic-version")).isEqualTo("2023-06-01");
        assertThat(got.body()).isEqualTo(REQUEST);
        assertThat(got.headers().toString() + got.body()).doesNotContain(placeholder);
    }

    @Test
    void missingWrongOrAnotherTasksPlaceholderIsRefusedWithoutContactingUpstream() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        register("task-1");
        String other = register("task-2").getString("token");
        await(vertx.eventBus().request(Addresses.PROXY_UNREGISTER, new JsonObject().put("task_id", "task-2")));

        assertThat(send(post("/v1/messages")).statusCode()).isEqualTo(401);
        assertThat(send(post("/v1/messages").header("x-api-key", "sk-ant-api03-mvo-guessed-guessed-guessed-guessed")).statusCode()).isEqualTo(401);
        assertThat(send(post("/v1/messages").header("x-api-key", REAL_KEY)).statusCode()).as("the real key itself").isEqualTo(401);
        assertThat(send(post("/v1/messages").header("authorization", "Bearer " + other)).statusCode()).as("unregistered task").isEqualTo(401);
        HttpResponse<String> refused = send(post("/v1/messages").header("x-api-key", ""));
        assertThat(refused.statusCode()).isEqualTo(401);
        assertThat(new JsonObject(refused.body()).getJsonObject("error").getString("type")).isEqualTo("authentication_error");
        assertThat(upstream.received).isEmpty();
    }

    @Test
    void eachTaskIsMeteredUnderItsOwnPlaceholder() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String a = register("task-a").getString("token");
        String b = register("task-b").getString("token");
        assertThat(a).isNotEqualTo(b);
        assertThat(send(post("/v1/messages").header("x-api-key", b)).statusCode()).isEqualTo(200);
        awaitCondition(() -> usage("task-b").getLong("requests") == 1);
        assertThat(usage("task-a").getLong("requests")).isZero();
    }

    @Test
    void pathsClaudeCodeDoesNotUseAreForbidden() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        for (String path : List.of("/v1/models", "/v1/files", "/v1/messages/batches", "/v1/messages/../organizations/me",
                "/api/oauth/profile", "//v1/messages", "/v1/messages/")) {
            HttpResponse<String> r = send(post(path).header("x-api-key", token));
            assertThat(r.statusCode()).as(path).isEqualTo(403);
        }
        HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/v1/messages"))
                .header("x-api-key", token).GET().build();
        assertThat(http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(403);
        assertThat(upstream.received).isEmpty();
    }

    @Test
    void theConnectivityCheckIsAnsweredLocallyAndBrowsersAreRefused() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        HttpRequest head = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
        assertThat(http.send(head, HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
        assertThat(send(post("/v1/messages").header("x-api-key", token).header("origin", "http://evil.example")).statusCode())
                .isEqualTo(403);
        assertThat(upstream.received).isEmpty();
    }

    @Test
    void countTokensIsForwardedButNotBilled() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        HttpResponse<String> r = send(post("/v1/messages/count_tokens?beta=true").header("x-api-key", token));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(new JsonObject(r.body()).getInteger("input_tokens")).isEqualTo(77);
        assertThat(upstream.received.getFirst().uri()).isEqualTo("/v1/messages/count_tokens?beta=true");
        Thread.sleep(200);
        assertThat(usage("task-1").getLong("requests")).isZero();
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.SECONDS)
    void theStreamIsRelayedIncrementallyNotBufferedWhole() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        Promise<Void> release = upstream.holdAfterFirstEvent();

        HttpResponse<java.io.InputStream> resp = http.send(post("/v1/messages?beta=true").header("x-api-key", token).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(resp.statusCode()).isEqualTo(200);
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
            assertThat(lines.readLine()).isEqualTo("event: message_start"); // arrives while the upstream still holds the rest
            assertThat(lines.readLine()).startsWith("data: {\"type\":\"message_start\"");
            assertThat(upstream.received).hasSize(1);
            vertx.runOnContext(v -> release.complete());
            StringBuilder rest = new StringBuilder();
            String line;
            while ((line = lines.readLine()) != null) rest.append(line).append('\n');
            assertThat(rest).contains("event: message_delta").contains("event: message_stop");
        }
    }

    @Test
    void usageIsMeteredIntoTotalsAnEventAndTheEventBus() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        assertThat(send(post("/v1/messages?beta=true").header("x-api-key", token)).statusCode()).isEqualTo(200);
        // a non-streaming request is metered from the JSON body
        assertThat(send(post("/v1/messages").header("x-api-key", token)
                .POST(HttpRequest.BodyPublishers.ofString(REQUEST.replace("\"stream\":true", "\"stream\":false")))).statusCode())
                .isEqualTo(200);

        awaitCondition(() -> eventLog.readAfter(0, 10).size() == 2 && published.size() == 2);
        List<TaskEvent> events = eventLog.readAfter(0, 10);
        TaskEvent first = events.getFirst();
        assertThat(first.type()).isEqualTo(EventTypes.TASK_USAGE);
        assertThat(first.taskId()).isEqualTo("task-1");
        assertThat(first.data().getString("model")).isEqualTo(FakeMessagesApi.MODEL);
        assertThat(first.data().getLong("input_tokens")).isEqualTo(FakeMessagesApi.INPUT_TOKENS);
        assertThat(first.data().getLong("output_tokens")).as("the final message_delta count").isEqualTo(FakeMessagesApi.OUTPUT_TOKENS);
        assertThat(first.data().getLong("cache_creation_input_tokens")).isEqualTo(FakeMessagesApi.CACHE_CREATION);
        assertThat(first.data().getLong("cache_read_input_tokens")).isEqualTo(FakeMessagesApi.CACHE_READ);
        double expectedCost = (1200 * 3 + 42 * 15 + 300 * 3 * 1.25 + 5000 * 3 * 0.1) / 1_000_000.0;
        assertThat(first.data().getDouble("cost_usd")).isCloseTo(expectedCost, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(published.getFirst()).isEqualTo(first.toJson());

        JsonObject totals = usage("task-1");
        assertThat(totals.getLong("requests")).isEqualTo(2);
        assertThat(totals.getLong("input_tokens")).isEqualTo(2 * FakeMessagesApi.INPUT_TOKENS);
        assertThat(totals.getLong("output_tokens")).isEqualTo(2 * FakeMessagesApi.OUTPUT_TOKENS);
        assertThat(totals.getDouble("cost_usd")).isCloseTo(2 * expectedCost, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(totals.encode() + events).doesNotContain(REAL_KEY).doesNotContain(token);

        JsonObject unregistered = await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_UNREGISTER,
                new JsonObject().put("task_id", "task-1"))).body();
        assertThat(unregistered.getBoolean("removed")).isTrue();
        assertThat(unregistered.getJsonObject("usage").getLong("requests")).isEqualTo(2);
        assertThat(send(post("/v1/messages").header("x-api-key", token)).statusCode()).isEqualTo(401);
    }

    @Test
    void anOauthCredentialIsSentAsBearerWithTheOauthBeta() throws Exception {
        deployProxy(CredentialKind.OAUTH, REAL_OAUTH);
        String token = register("task-1").getString("token");
        assertThat(send(post("/v1/messages?beta=true").header("x-api-key", token)
                .header("anthropic-beta", "claude-code-20250219")).statusCode()).isEqualTo(200);
        FakeMessagesApi.Received got = upstream.received.getFirst();
        assertThat(got.header("authorization")).isEqualTo("Bearer " + REAL_OAUTH);
        assertThat(got.header("x-api-key")).isNull();
        assertThat(got.header("anthropic-beta")).isEqualTo("claude-code-20250219," + UpstreamRelay.OAUTH_BETA);
    }

    @Test
    void aPlaceholderPresentedAsBearerIsAcceptedToo() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        String token = register("task-1").getString("token");
        assertThat(send(post("/v1/messages").header("authorization", "Bearer " + token)
                .header("anthropic-beta", "oauth-2025-04-20,claude-code-20250219")).statusCode()).isEqualTo(200);
        FakeMessagesApi.Received got = upstream.received.getFirst();
        assertThat(got.header("x-api-key")).isEqualTo(REAL_KEY);
        assertThat(got.header("authorization")).isNull();
        assertThat(got.header("anthropic-beta")).as("an API key must not claim the OAuth beta").isEqualTo("claude-code-20250219");
    }

    @Test
    void registrationValidatesTheTaskIdAndCanRestoreAnIssuedPlaceholder() throws Exception {
        deployProxy(CredentialKind.API_KEY, REAL_KEY);
        var bad = vertx.eventBus().request(Addresses.PROXY_REGISTER, new JsonObject().put("task_id", "../etc"));
        assertThat(catchFailure(bad)).contains("invalid task id");
        String token = register("task-1").getString("token");
        await(vertx.eventBus().request(Addresses.PROXY_UNREGISTER, new JsonObject().put("task_id", "task-1")));
        JsonObject again = await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER,
                new JsonObject().put("task_id", "task-1").put("token", token))).body();
        assertThat(again.getString("token")).isEqualTo(token);
        assertThat(send(post("/v1/messages").header("x-api-key", token)).statusCode()).isEqualTo(200);
        var forged = vertx.eventBus().request(Addresses.PROXY_REGISTER, new JsonObject().put("task_id", "task-2").put("token", "short"));
        assertThat(catchFailure(forged)).contains("placeholder");
    }

    @Test
    void anUnreachableUpstreamGivesA502InTheApisErrorShape() throws Exception {
        var config = new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:1"));
        proxy = new ApiProxyVerticle(config, new Credential(CredentialKind.API_KEY, Secret.of(REAL_KEY), "test"), new EventSink(vertx, eventLog), new Redactor());
        await(vertx.deployVerticle(proxy));
        String token = register("task-1").getString("token");
        HttpResponse<String> r = send(post("/v1/messages").header("x-api-key", token));
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(new JsonObject(r.body()).getJsonObject("error").getString("type")).isEqualTo("api_error");
        assertThat(r.body()).doesNotContain(REAL_KEY);
    }

    // ---- helpers ----

    private JsonObject usage(String taskId) throws Exception {
        return await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_USAGE, new JsonObject().put("task_id", taskId))).body();
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }

    private static String catchFailure(Future<?> f) {
        try {
            await(f);
            return "no failure";
        } catch (Exception e) {
            return String.valueOf(e.getMessage());
        }
    }

    static void awaitCondition(java.util.concurrent.Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.call()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 10 s");
            Thread.sleep(20);
        }
    }
}
