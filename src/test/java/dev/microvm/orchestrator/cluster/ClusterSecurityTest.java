package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.testing.FreePorts;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.X509KeyManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Real clustered Vert.x instances on loopback with certificates made by {@link ClusterCerts}:
 * members form a cluster and talk over the TLS event bus; a host with another CA's certificate
 * neither joins nor gets an event-bus connection accepted; a genuine certificate for a name not
 * in the member list does not get into the membership.
 */
@Tag("cluster")
class ClusterSecurityTest {

    @TempDir static Path tmp;
    private static Path certs;
    private static Path rogueCerts;
    private final List<ClusterVertx.Started> started = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();

    /** keytool is a JVM per call: make the certificates once for the class. */
    @BeforeAll
    static void certificates() throws Exception {
        certs = tmp.resolve("certs");
        rogueCerts = tmp.resolve("rogue");
        ClusterCerts tool = ClusterCerts.forThisJvm();
        tool.create(certs, "lab", List.of("alpha", "beta", "outsider"));
        tool.create(rogueCerts, "lab", List.of("gamma"));
    }

    @BeforeEach
    void ports() throws Exception {
        for (int p : FreePorts.distinct(8)) ports.add(p);
    }

    @AfterEach
    void stop() throws Exception {
        for (ClusterVertx.Started s : started.reversed()) {
            s.vertx().close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void certificateFilesArePrivateAndPasswordsNeverReachTheCommandLine() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs))).isEqualTo("rwx------");
        for (String f : List.of("ca.p12", "ca.password", "alpha.p12", "alpha.password")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(certs.resolve(f)))).as(f).isEqualTo("rw-------");
        }
        assertThat(Files.readString(certs.resolve("ca.crt"))).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(ClusterTls.load(config("alpha", certs)).trustManager().getAcceptedIssuers()).hasSize(1);
    }

    @Test
    void membersJoinAndTalkWhileStrangersAreShutOut() throws Exception {
        ClusterVertx.Started alpha = start(config("alpha", certs));
        ClusterVertx.Started beta = start(config("beta", certs));
        awaitMembers(alpha, List.of("alpha", "beta"));

        AtomicInteger delivered = new AtomicInteger();
        alpha.vertx().eventBus().<JsonObject>consumer("test.echo", m -> {
            delivered.incrementAndGet();
            m.reply(new JsonObject().put("from", "alpha"));
        }).completion().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        JsonObject reply = beta.vertx().eventBus().<JsonObject>request("test.echo", new JsonObject(), new DeliveryOptions().setSendTimeout(10_000))
                .toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS).body();
        assertThat(reply.getString("from")).isEqualTo("alpha");

        // events carry sequence numbers of their host's own log: they never reach another host
        AtomicInteger betaEvents = new AtomicInteger();
        AtomicInteger alphaEvents = new AtomicInteger();
        beta.vertx().eventBus().consumer(Addresses.EVENTS, m -> betaEvents.incrementAndGet()).completion()
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        alpha.vertx().eventBus().consumer(Addresses.EVENTS, m -> alphaEvents.incrementAndGet()).completion()
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        EventSink sink = new EventSink(alpha.vertx(), new EventLog(tmp.resolve("alpha-events").resolve("events.jsonl"), Clock.systemUTC()));
        sink.publish("task.state", "t-1", new JsonObject().put("state", "queued")).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (alphaEvents.get() < 1 && System.nanoTime() < deadline) Thread.sleep(50);
        Thread.sleep(1_000); // time for a wrongly clustered publication to reach beta
        assertThat(alphaEvents.get()).isEqualTo(1);
        assertThat(betaEvents.get()).isZero();

        // another CA's certificate under a configured name, and a genuine certificate for an unlisted name
        ClusterVertx.Started gamma = start(config("gamma", rogueCerts));
        ClusterVertx.Started outsider = start(configWithout("outsider"));
        Thread.sleep(4_000); // several merge rounds (MERGE3 every 2-5 s)
        assertThat(alpha.membership().members()).containsExactlyInAnyOrder("alpha", "beta");
        assertThat(gamma.membership().members()).containsExactly("gamma");
        assertThat(outsider.membership().members()).containsExactly("outsider");
        assertThatThrownBy(() -> gamma.vertx().eventBus().request("test.echo", new JsonObject(), new DeliveryOptions().setSendTimeout(2_000))
                .toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS)).hasMessageContaining("No handlers");

        // straight at alpha's event-bus port: without the cluster's certificate no connection survives the handshake
        int alphaBus = ports.get(1);
        assertThat(handshake(alpha.vertx(), alphaBus, null)).as("no client certificate").isFalse();
        assertThat(handshake(alpha.vertx(), alphaBus, ClusterTls.load(config("gamma", rogueCerts)).keyManager())).as("foreign CA").isFalse();
        assertThat(handshake(alpha.vertx(), alphaBus, ClusterTls.load(config("beta", certs)).keyManager())).as("member").isTrue();
        assertThat(plainTextRejected(alpha.vertx(), alphaBus)).isTrue();
        assertThat(delivered.get()).isEqualTo(1);
    }

    /**
     * A TLS 1.3 connection presenting {@code key}'s certificate (whatever the server asks for).
     * True when the server keeps it open; a rejected certificate shows up as an alert or end of
     * stream on the first read, since TLS 1.3 clients finish their handshake before the server
     * has checked them.
     */
    private boolean handshake(Vertx unused, int port, X509KeyManager key) throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        ctx.init(key == null ? null : new javax.net.ssl.KeyManager[]{new AlwaysPresent(key)}, new javax.net.ssl.TrustManager[]{new TrustAll()}, null);
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(2_000);
            s.startHandshake();
            s.getOutputStream().write(new byte[]{0, 0, 0, 1});
            s.getOutputStream().flush();
            try {
                return s.getInputStream().read() != -1;
            } catch (java.net.SocketTimeoutException stillOpen) {
                return true;
            }
        } catch (java.io.IOException rejected) {
            return false;
        }
    }

    private boolean plainTextRejected(Vertx vertx, int port) throws Exception {
        NetSocket s = vertx.createNetClient().connect(port, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        var closed = new java.util.concurrent.CompletableFuture<Boolean>();
        s.closeHandler(v -> closed.complete(true));
        s.write(io.vertx.core.buffer.Buffer.buffer(new byte[]{0, 0, 0, 40, 1, 0, 0, 0, 9, 't', 'e', 's', 't', '.', 'e', 'c', 'h', 'o'}));
        return closed.completeOnTimeout(false, 5, TimeUnit.SECONDS).get();
    }

    private ClusterVertx.Started start(ClusterConfig config) throws Exception {
        ClusterVertx.Started s = ClusterVertx.start(config, new VertxOptions());
        started.add(s);
        return s;
    }

    private static void awaitMembers(ClusterVertx.Started node, List<String> expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (node.membership().members().containsAll(expected) && node.membership().members().size() == expected.size()) return;
            Thread.sleep(100);
        }
        throw new AssertionError("members " + node.membership().members() + ", expected " + expected);
    }

    /** alpha, beta and gamma are the configured members; every node lists the same three. */
    private ClusterConfig config(String name, Path dir) {
        List<String> names = List.of("alpha", "beta", "gamma");
        int i = names.indexOf(name);
        return new ClusterConfig("lab", name, "127.0.0.1", ports.get(i * 2), ports.get(i * 2 + 1), members(names), dir);
    }

    /** A node whose own list includes itself, but which no real member lists. */
    private ClusterConfig configWithout(String name) {
        List<ClusterConfig.Member> m = new ArrayList<>(members(List.of("alpha", "beta", "gamma")));
        m.add(new ClusterConfig.Member(name, "127.0.0.1", ports.get(6)));
        return new ClusterConfig("lab", name, "127.0.0.1", ports.get(6), ports.get(7), m, certs);
    }

    private List<ClusterConfig.Member> members(List<String> names) {
        List<ClusterConfig.Member> m = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) m.add(new ClusterConfig.Member(names.get(i), "127.0.0.1", ports.get(i * 2)));
        return m;
    }

    /** Presents the store's one key whatever issuers the server names. */
    private record AlwaysPresent(X509KeyManager km) implements X509KeyManager {
        @Override public String[] getClientAliases(String t, java.security.Principal[] i) { return km.getClientAliases(t, null); }
        @Override public String chooseClientAlias(String[] t, java.security.Principal[] i, java.net.Socket s) { return "node"; }
        @Override public String[] getServerAliases(String t, java.security.Principal[] i) { return km.getServerAliases(t, i); }
        @Override public String chooseServerAlias(String t, java.security.Principal[] i, java.net.Socket s) { return km.chooseServerAlias(t, i, s); }
        @Override public java.security.cert.X509Certificate[] getCertificateChain(String a) { return km.getCertificateChain(a); }
        @Override public java.security.PrivateKey getPrivateKey(String a) { return km.getPrivateKey(a); }
    }

    private static final class TrustAll implements javax.net.ssl.X509TrustManager {
        @Override public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) { }
        @Override public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) { }
        @Override public java.security.cert.X509Certificate[] getAcceptedIssuers() { return new java.security.cert.X509Certificate[0]; }
    }
}
