package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The egress proxy's decisions without a VM. (That an allowed domain is reached is shown with a real
 * guest and a test network namespace in AllowlistNetworkVmTest: here every address is this host's.)
 */
class EgressProxyVerticleTest {
    Vertx vertx;
    final List<JsonObject> persisted = new CopyOnWriteArrayList<>();
    int port;

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        vertx.eventBus().<JsonObject>consumer(Addresses.WORKER_PERSIST, m -> {
            persisted.add(m.body());
            m.reply(new JsonObject().put("seq", persisted.size()));
        });
        EgressProxyVerticle.Resolver resolver = host -> {
            if (host.equals("allowed.test")) return InetAddress.getLoopbackAddress();
            throw new UnknownHostException(host);
        };
        vertx.deployVerticle(new EgressProxyVerticle(resolver)).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        port = vertx.eventBus().<JsonObject>request(Addresses.EGRESS_OPEN, new JsonObject().put("task_id", "t-1")
                        .put("domains", new JsonArray().add("allowed.test").add("*.suffix.test")))
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).body().getInteger("port");
    }

    @AfterEach
    void stop() throws Exception {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private static void until(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 5 s");
            Thread.sleep(20);
        }
    }

    private String send(String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aHostNotOnTheListIsRefusedAndRecordedAsNetworkDeniedForTheTask() throws Exception {
        assertThat(send("CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"))
                .startsWith("HTTP/1.1 403").contains("evil.example is refused");
        assertThat(send("GET http://suffix.test/x HTTP/1.1\r\nHost: suffix.test\r\n\r\n")).startsWith("HTTP/1.1 403");
        assertThat(send("GET http://10.1.2.3:8080/ HTTP/1.1\r\nHost: 10.1.2.3\r\n\r\n")).startsWith("HTTP/1.1 403");
        assertThat(send("CONNECT [::1]:22 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 403");
        until(() -> persisted.size() == 4);
        assertThat(persisted).extracting(p -> p.getJsonObject("event"))
                .allSatisfy(e -> {
                    assertThat(e.getString("type")).isEqualTo(EventTypes.NETWORK_DENIED);
                    assertThat(e.getString("task_id")).isEqualTo("t-1");
                })
                .extracting(e -> e.getJsonObject("data").getString("host") + ":" + e.getJsonObject("data").getInteger("port"))
                .containsExactly("evil.example:443", "suffix.test:80", "10.1.2.3:8080", "[::1]:22");
    }

    @Test
    void aListedDomainThatResolvesToThisHostIsRefused() throws Exception {
        try (var server = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(send("CONNECT allowed.test:" + server.getLocalPort() + " HTTP/1.1\r\n\r\n"))
                    .startsWith("HTTP/1.1 403").contains("address of the orchestrator's host");
        }
        until(() -> persisted.size() == 1);
    }

    @Test
    void whatIsNotAProxyRequestIsABadRequestAndNoEvent() throws Exception {
        assertThat(send("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")).startsWith("HTTP/1.1 400").contains("absolute http:// URLs");
        assertThat(send("CONNECT allowed.test HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400");
        Thread.sleep(200);
        assertThat(persisted).isEmpty();
    }

    @Test
    void aListenerIsReopenedOnTheSamePortForARecoveredVm() throws Exception {
        int previous;
        try (var probe = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            previous = probe.getLocalPort();
        }
        JsonObject reply = vertx.eventBus().<JsonObject>request(Addresses.EGRESS_OPEN, new JsonObject().put("task_id", "t-2")
                        .put("domains", new JsonArray().add("allowed.test")).put("port", previous))
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).body();
        assertThat(reply.getInteger("port")).isEqualTo(previous);
        try (Socket s = new Socket("127.0.0.1", previous)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("CONNECT evil.example:443 HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).startsWith("HTTP/1.1 403");
        }
        until(() -> persisted.size() == 1);
        assertThat(persisted.get(0).getJsonObject("event").getString("task_id")).isEqualTo("t-2");
    }

    @Test
    void closingTheTasksListenerStopsIt() throws Exception {
        JsonObject closed = vertx.eventBus().<JsonObject>request(Addresses.EGRESS_CLOSE, new JsonObject().put("task_id", "t-1"))
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).body();
        assertThat(closed.getBoolean("closed")).isTrue();
        until(() -> {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                return false;
            } catch (IOException refused) {
                return true;
            }
        });
    }
}
