package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.events.EventLog;
import ch.qos.logback.classic.Level;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.microvm.orchestrator.secrets.ApiProxyVerticleTest.await;
import static dev.microvm.orchestrator.secrets.ApiProxyVerticleTest.awaitCondition;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real Claude Code CLI (npm {@code @anthropic-ai/claude-code}) runs headless against the proxy
 * with only a placeholder key, while the proxy holds a canary "real" key: the fake upstream must
 * see the canary, and neither Claude Code's output, the proxy's logs nor the events may contain it.
 * The CLI is the version pinned for the guest images ({@link dev.microvm.orchestrator.testing.ClaudeCode}).
 */
@Tag("slow")
class ClaudeCodeThroughProxyTest {

    static final String CANARY = "sk-ant-api03-CANARY-9e8d7c6b5a4f3e2d1c0b";

    @TempDir Path tmp;

    @Test
    void aHeadlessClaudeCodeRunUsesTheProxyAndNeverSeesTheRealKey() throws Exception {
        Path claude = dev.microvm.orchestrator.testing.ClaudeCode.binary();
        Vertx vertx = Vertx.vertx();
        var logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("dev.microvm");
        Level previousLevel = logger.getLevel();
        PrintStream originalErr = System.err;
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        try {
            logger.setLevel(Level.DEBUG);
            System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8));
            FakeMessagesApi upstream = new FakeMessagesApi();
            int upstreamPort = upstream.start(vertx);
            EventLog events = new EventLog(tmp.resolve("events.jsonl"), Clock.systemUTC());
            ApiProxyVerticle proxy = new ApiProxyVerticle(
                    new ApiProxyConfig("127.0.0.1", 0, URI.create("http://127.0.0.1:" + upstreamPort)),
                    new Credential(CredentialKind.API_KEY, Secret.of(CANARY), "test"), new EventSink(vertx, events), Redactor.global());
            await(vertx.deployVerticle(proxy));
            String placeholder = await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER,
                    new JsonObject().put("task_id", "canary-task"))).body().getString("token");

            Path home = Files.createDirectories(tmp.resolve("home"));
            Path work = Files.createDirectories(tmp.resolve("work"));
            ProcessBuilder pb = new ProcessBuilder(claude.toString(), "-p", "say hello", "--output-format", "stream-json", "--verbose")
                    .directory(work.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            // nothing of the developer's own credentials may reach the client
            dev.microvm.orchestrator.testing.ClaudeCode.headless(pb, home, "http://127.0.0.1:" + proxy.port(), placeholder);
            Path out = tmp.resolve("claude.out");
            pb.redirectErrorStream(true).redirectOutput(out.toFile());
            Process p = pb.start();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("claude finished").isTrue();
            String output = Files.readString(out);
            assertThat(p.exitValue()).as(output).isZero();

            JsonObject result = output.lines().filter(l -> l.startsWith("{")).map(JsonObject::new)
                    .filter(j -> "result".equals(j.getString("type"))).findFirst().orElseThrow();
            assertThat(result.getString("result")).contains("hello from the fake API");
            assertThat(output).doesNotContain(CANARY).doesNotContain("CANARY");

            List<FakeMessagesApi.Received> received = upstream.received;
            assertThat(received).isNotEmpty();
            assertThat(received).allSatisfy(r -> {
                assertThat(r.header("x-api-key")).isEqualTo(CANARY);
                assertThat(r.headers().toString() + r.body()).doesNotContain(placeholder);
            });
            assertThat(received).extracting(FakeMessagesApi.Received::uri).contains("/v1/messages?beta=true");

            awaitCondition(() -> events.readAfter(0, 100).stream().anyMatch(e -> e.type().equals(EventTypes.TASK_USAGE)));
            String eventText = events.readAfter(0, 100).toString() + Files.readString(events.file());
            assertThat(eventText).contains("canary-task").doesNotContain(CANARY).doesNotContain(placeholder);
        } finally {
            System.setErr(originalErr);
            logger.setLevel(previousLevel);
            await(vertx.close());
        }
        String logText = logs.toString(StandardCharsets.UTF_8);
        assertThat(logText).contains("API proxy listening").doesNotContain("CANARY").doesNotContain(CANARY);
    }
}
