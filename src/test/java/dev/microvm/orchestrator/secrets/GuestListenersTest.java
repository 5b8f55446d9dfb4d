package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.testing.ListeningSockets;
import dev.microvm.orchestrator.vm.GuestRunnerFiles;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static dev.microvm.orchestrator.secrets.ApiProxyVerticleTest.REAL_KEY;
import static dev.microvm.orchestrator.secrets.ApiProxyVerticleTest.REQUEST;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The credential proxy where a vfkit guest reaches it: on the vmnet gateway (played here by
 * 127.0.0.2, an address of this host that is not the proxy's loopback one: the real bridge is the
 * vfkit simulator's, in its own network namespace), and on a task's unix socket (the host end of
 * vsock). Every request is authenticated by the task's placeholder, wherever it arrives.
 */
class GuestListenersTest {
    static final String GATEWAY = "127.0.0.2";

    @TempDir Path tmp;
    private Vertx vertx;
    private FakeMessagesApi upstream;
    private ApiProxyVerticle proxy;
    private Process relayShell;

    @BeforeEach
    void setUp() throws Exception {
        vertx = Vertx.vertx();
        upstream = new FakeMessagesApi();
        int upstreamPort = upstream.start(vertx);
        proxy = new ApiProxyVerticle(new ApiProxyConfig("127.0.0.1", 0, java.net.URI.create("http://127.0.0.1:" + upstreamPort)),
                new Credential(CredentialKind.API_KEY, Secret.of(REAL_KEY), "test"),
                new EventSink(vertx, new EventLog(tmp.resolve("events/events.jsonl"), Clock.systemUTC())), new Redactor())
                .guestBindPatience(Duration.ofSeconds(2));
        await(vertx.deployVerticle(proxy));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (relayShell != null) {
            Path pid = tmp.resolve("relay.pid");
            if (Files.exists(pid)) ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).ifPresent(ProcessHandle::destroy);
            relayShell.destroy();
            relayShell.waitFor(5, TimeUnit.SECONDS);
        }
        await(vertx.close());
    }

    private String register(String taskId) throws Exception {
        return await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, new JsonObject().put("task_id", taskId))).body().getString("token");
    }

    private JsonObject listen(JsonObject where) throws Exception {
        return await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_LISTEN, where.put("task_id", "task-1"))).body();
    }

    /** One HTTP/1.1 request over a connected socket; the whole reply. */
    private static String exchange(java.nio.channels.ByteChannel ch, String token) throws IOException {
        String head = "POST /v1/messages HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\n"
                + (token == null ? "" : "x-api-key: " + token + "\r\n")
                + "Content-Length: " + REQUEST.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + REQUEST;
        ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.UTF_8)));
        StringBuilder out = new StringBuilder();
        ByteBuffer buf = ByteBuffer.allocate(16384);
        while (ch.read(buf) >= 0) {
            buf.flip();
            out.append(StandardCharsets.UTF_8.decode(buf));
            buf.clear();
        }
        return out.toString();
    }

    private static String overTcp(String host, int port, String token) throws IOException {
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(host, port))) {
            return exchange(ch, token);
        }
    }

    private static String overUnix(Path socket, String token) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return exchange(ch, token);
        }
    }

    @Test
    void onTheGatewayOnlyAValidPlaceholderIsServedAndNothingElseOfTheHostListens() throws Exception {
        String placeholder = register("task-1");
        String other = register("task-2");
        await(vertx.eventBus().request(Addresses.PROXY_UNREGISTER, new JsonObject().put("task_id", "task-2")));
        assertThat(listen(new JsonObject().put("address", GATEWAY)).getString("listening")).isEqualTo(GATEWAY + ":" + proxy.port());

        assertThat(overTcp(GATEWAY, proxy.port(), null)).startsWith("HTTP/1.1 401").contains("invalid or missing proxy token");
        assertThat(overTcp(GATEWAY, proxy.port(), "sk-ant-api03-guessed")).startsWith("HTTP/1.1 401");
        assertThat(overTcp(GATEWAY, proxy.port(), other)).as("a placeholder of a task that ended").startsWith("HTTP/1.1 401");
        assertThat(upstream.received).isEmpty();
        String served = overTcp(GATEWAY, proxy.port(), placeholder);
        assertThat(served).startsWith("HTTP/1.1 200").contains("hello from the fake API").doesNotContain(REAL_KEY);
        assertThat(upstream.received).hasSize(1);
        assertThat(upstream.received.getFirst().header("x-api-key")).isEqualTo(REAL_KEY);

        // bound to the gateway and loopback only: never a wildcard, so another address of the host refuses
        assertThat(listeningAddresses(proxy.port())).containsExactlyInAnyOrder("127.0.0.1", GATEWAY);
        for (String elsewhere : otherHostAddresses()) {
            assertThatThrownBy(() -> overTcp(elsewhere, proxy.port(), placeholder)).as(elsewhere).isInstanceOf(ConnectException.class);
        }
    }

    @Test
    void theGatewayListenerClosesWithItsLastTask() throws Exception {
        register("task-1");
        listen(new JsonObject().put("address", GATEWAY));
        await(vertx.eventBus().request(Addresses.PROXY_UNREGISTER, new JsonObject().put("task_id", "task-1")));
        Thread.sleep(200);
        assertThat(listeningAddresses(proxy.port())).containsExactly("127.0.0.1");
        assertThatThrownBy(() -> overTcp(GATEWAY, proxy.port(), null)).isInstanceOf(ConnectException.class);
    }

    @Test
    void aVmReattachedByThisProcessIsServedOnTheGatewayAtThePortItBootedWith() throws Exception {
        int booted;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            booted = s.getLocalPort();
        }
        String token = PlaceholderTokens.PREFIX + "r".repeat(43);
        JsonObject reg = await(vertx.eventBus().<JsonObject>request(Addresses.PROXY_REGISTER,
                new JsonObject().put("task_id", "task-1").put("token", token).put("port", booted))).body();
        assertThat(reg.getBoolean("route_restored")).isTrue();
        assertThat(listen(new JsonObject().put("address", GATEWAY).put("port", booted)).getString("listening")).isEqualTo(GATEWAY + ":" + booted);
        assertThat(overTcp(GATEWAY, booted, token)).startsWith("HTTP/1.1 200");
        assertThat(listeningAddresses(booted)).containsExactlyInAnyOrder("127.0.0.1", GATEWAY);
    }

    @Test
    void aWildcardANameOrAnAddressThatNeverAppearsIsRefusedSayingWhy() throws Exception {
        register("task-1");
        assertThatThrownBy(() -> listen(new JsonObject().put("address", "0.0.0.0")))
                .hasRootCauseInstanceOf(ReplyException.class).hasMessageContaining("every interface");
        assertThatThrownBy(() -> listen(new JsonObject().put("address", "gateway.local"))).hasMessageContaining("not an IPv4 address");
        assertThatThrownBy(() -> listen(new JsonObject())).hasMessageContaining("an address or an absolute unix_socket");
        // 192.0.2.1 (TEST-NET-1) is no address of this host: the bridge "never comes up"
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> listen(new JsonObject().put("address", "192.0.2.1")))
                .hasMessageContaining("could not listen on 192.0.2.1").hasMessageContaining("did not come up");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofSeconds(2), Duration.ofSeconds(10));
        assertThat(listeningAddresses(proxy.port())).containsExactly("127.0.0.1");
    }

    @Test
    void aTasksUnixSocketCarriesRequestsToTheProxyWhichStillWantsThePlaceholder() throws Exception {
        String placeholder = register("task-1");
        Path socket = tmp.resolve("ctl/api.sock");
        Files.createDirectories(socket.getParent());
        assertThat(listen(new JsonObject().put("unix_socket", socket.toString())).getString("listening")).isEqualTo(socket.toString());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");

        assertThat(overUnix(socket, null)).startsWith("HTTP/1.1 401");
        assertThat(overUnix(socket, placeholder)).startsWith("HTTP/1.1 200").contains("hello from the fake API");
        assertThat(upstream.received).hasSize(1);

        await(vertx.eventBus().request(Addresses.PROXY_UNREGISTER, new JsonObject().put("task_id", "task-1")));
        for (int i = 0; i < 50 && Files.exists(socket); i++) Thread.sleep(50);
        assertThat(socket).doesNotExist();
    }

    /**
     * The guest's relay as the runner starts it (its start_api_relay, run by a shell here), with its
     * vsock end replaced by the unix socket vfkit would dial: this kernel has no vhost-vsock, so the
     * vsock hop itself is not exercised (README: unverified on a real Mac).
     */
    @Test
    void theRunnersRelayCarriesTheAgentsRequestToTheProxyOverTheStandInTransport() throws Exception {
        boolean required = "true".equalsIgnoreCase(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"));
        boolean haveSocat = Files.isExecutable(Path.of("/usr/bin/socat")) || Files.isExecutable(Path.of("/usr/local/bin/socat"));
        if (required && !haveSocat) throw new AssertionError("socat is missing: run scripts/install-deps.sh");
        assumeTrue(haveSocat, "socat is not installed (scripts/install-deps.sh installs it)");
        String placeholder = register("task-1");
        Path socket = tmp.resolve("ctl/api.sock");
        Files.createDirectories(socket.getParent());
        listen(new JsonObject().put("unix_socket", socket.toString()));

        String runner = GuestRunnerFiles.runnerScript();
        int from = runner.indexOf("start_api_relay() {");
        int to = runner.indexOf("\n}\n", from);
        assertThat(from).as("the runner defines start_api_relay").isPositive();
        String function = runner.substring(from, to + 3);
        assertThat(function).contains("VSOCK-CONNECT:2:$MVO_API_VSOCK_PORT").contains("bind=127.0.0.1");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path script = Files.writeString(tmp.resolve("relay.sh"), "log() { echo \"$*\" >&2; }\n" + function
                + "start_api_relay\necho $! > " + tmp.resolve("relay.pid") + "\nwait\n");
        ProcessBuilder pb = new ProcessBuilder("sh", script.toString()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("relay.log").toFile());
        pb.environment().put("MVO_API_VSOCK_PORT", "1100");
        pb.environment().put("MVO_API_RELAY_PORT", Integer.toString(port));
        pb.environment().put("MVO_API_RELAY_TARGET", "UNIX-CONNECT:" + socket);
        relayShell = pb.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!listeningAddresses(port).contains("127.0.0.1")) {
            if (System.nanoTime() > deadline) throw new AssertionError("the relay never listened: " + Files.readString(tmp.resolve("relay.log")));
            Thread.sleep(50);
        }
        assertThat(listeningAddresses(port)).as("the guest's relay listens on its loopback only").containsExactly("127.0.0.1");
        assertThat(overTcp("127.0.0.1", port, null)).startsWith("HTTP/1.1 401");
        assertThat(overTcp("127.0.0.1", port, placeholder)).startsWith("HTTP/1.1 200").contains("hello from the fake API");
        assertThat(upstream.received).hasSize(1);
        assertThat(Files.readString(tmp.resolve("relay.log"))).contains("API relay: 127.0.0.1:" + port + " -> UNIX-CONNECT:" + socket);
    }

    static List<String> listeningAddresses(int port) throws IOException {
        return ListeningSockets.addresses(port);
    }

    /** This host's IPv4 addresses other than the proxy's loopback and the stand-in gateway. */
    private static List<String> otherHostAddresses() throws IOException {
        List<String> out = new ArrayList<>(List.of("127.0.0.3"));
        for (NetworkInterface n : NetworkInterface.networkInterfaces().toList()) {
            n.inetAddresses().filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress()).forEach(a -> out.add(a.getHostAddress()));
        }
        return out;
    }

    static <T> T await(io.vertx.core.Future<T> f) throws Exception {
        try {
            return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? new Exception(ex.getMessage(), ex) : e;
        }
    }
}
