package dev.microvm.orchestrator.vm.qemu;

import com.sun.net.httpserver.HttpServer;
import dev.microvm.orchestrator.testing.TestInternet;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a guest can reach: the credential proxy always; under network full (NAT) the internet — a
 * server in a test namespace stands in for it — and no address of the host: neither its loopback
 * (the gateway 10.0.2.2) nor its other addresses.
 */
@Tag("vm")
class QemuNetworkVmTest {
    @TempDir Path tmp;

    final QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
    final java.util.List<VmHandle> started = new java.util.ArrayList<>();
    HttpServer proxy;
    HttpServer other;
    HttpServer everywhere;

    @BeforeEach
    void servers() throws Exception {
        proxy = server("proxy-ok", InetAddress.getLoopbackAddress());
        other = server("other-ok", InetAddress.getLoopbackAddress());
        everywhere = server("host-ok", InetAddress.getByName("0.0.0.0"));
    }

    @AfterEach
    void stopServers() {
        started.forEach(driver::destroy);
        proxy.stop(0);
        other.stop(0);
        everywhere.stop(0);
    }

    @Test
    void api_only_reaches_the_proxy_and_nothing_else() throws Exception {
        String log = runProbe(new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, proxy.getAddress().getPort()), "qemu-apionly");
        assertThat(log).contains("proxy=0").contains("other=1");
    }

    @Test
    void full_reaches_the_proxy_and_the_internet_but_no_address_of_the_host() throws Exception {
        TestInternet.require(true);
        try (TestInternet internet = TestInternet.start(tmp)) {
            String primary = primaryHostAddress(internet.hostAddress);
            int port = everywhere.getAddress().getPort();
            // the probe does detect a reachable service: from the host, the same server answers on both addresses
            assertThat(fetch(primary, port)).contains("host-ok");
            assertThat(fetch(internet.hostAddress, port)).contains("host-ok");
            String log = runProbe(new VmSpec.Network(VmSpec.Network.Mode.NAT, proxy.getAddress().getPort()), "qemu-full",
                    probe("internet", internet.serverAddress, internet.port, internet.marker)
                            + probe("gateway", "10.0.2.2", other.getAddress().getPort(), "other-ok")
                            + probe("primary", primary, port, "host-ok")
                            + probe("link", internet.hostAddress, port, "host-ok"));
            assertThat(log).contains("proxy=0", "internet=0", "gateway=1", "primary=1", "link=1");
        }
    }

    private static String probe(String label, String address, int port, String marker) {
        return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 15 nc -w 5 " + address + " " + port + " | grep -q " + marker + "; echo " + label + "=$?; ";
    }

    /** An IPv4 address of the host other than loopback and {@code except}. */
    static String primaryHostAddress(String except) throws Exception {
        for (java.net.NetworkInterface nif : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : java.util.Collections.list(nif.getInetAddresses())) {
                if (a instanceof java.net.Inet4Address && !a.isLoopbackAddress() && !a.getHostAddress().equals(except)) return a.getHostAddress();
            }
        }
        throw new IllegalStateException("this host has no IPv4 address besides loopback");
    }

    private static String fetch(String address, int port) throws Exception {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new InetSocketAddress(address, port), 2000);
            s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private String runProbe(VmSpec.Network net, String name) throws Exception {
        return runProbe(net, name, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.0.2.2 " + other.getAddress().getPort() + " | grep -q other-ok; echo other=$?");
    }

    private String runProbe(VmSpec.Network net, String name, String probes) throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        VmSpec spec = task.spec(name, TestGuest.get(), net, false, null);
        String base = driver.apiBaseUrlForGuest(spec).orElseThrow();
        assertThat(base).isEqualTo("http://10.0.2.100:80");
        // busybox nc speaks enough HTTP/1.0 (the static busybox's wget crashes resolving names)
        String get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ";
        task.writeTask(get + "10.0.2.100 80 | grep -q proxy-ok; echo proxy=$?; " + probes);
        VmHandle h = driver.start(spec);
        started.add(h);
        driver.awaitReady(h, QemuDriverVmTest.BOOT);
        var exit = driver.await(h, QemuDriverVmTest.BOOT);
        java.nio.file.Path agentLog = task.io.resolve(GuestContract.OUT_AGENT_LOG);
        assertThat(exit).as(() -> "the probe did not finish; agent log so far:\n" + readQuietly(agentLog)).isPresent();
        return task.read(GuestContract.OUT_AGENT_LOG);
    }

    private static String readQuietly(java.nio.file.Path p) {
        try {
            return java.nio.file.Files.readString(p);
        } catch (java.io.IOException e) {
            return "(" + e + ")";
        }
    }

    private static HttpServer server(String body, InetAddress bind) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(bind, 0), 0);
        s.createContext("/", ex -> {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        return s;
    }
}
