package dev.microvm.orchestrator.vm.qemu;

import com.sun.net.httpserver.HttpServer;
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

/** What a guest can reach: the credential proxy always, anything else only with NAT. */
@Tag("vm")
class QemuNetworkVmTest {
    @TempDir Path tmp;

    final QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
    final java.util.List<VmHandle> started = new java.util.ArrayList<>();
    HttpServer proxy;
    HttpServer other;

    @BeforeEach
    void servers() throws Exception {
        proxy = server("proxy-ok");
        other = server("other-ok");
    }

    @AfterEach
    void stopServers() {
        started.forEach(driver::destroy);
        proxy.stop(0);
        other.stop(0);
    }

    @Test
    void api_only_reaches_the_proxy_and_nothing_else() throws Exception {
        String log = runProbe(new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, proxy.getAddress().getPort()), "qemu-apionly");
        assertThat(log).contains("proxy=0").contains("other=1");
    }

    @Test
    void nat_reaches_the_proxy_and_the_host() throws Exception {
        String log = runProbe(new VmSpec.Network(VmSpec.Network.Mode.NAT, proxy.getAddress().getPort()), "qemu-nat");
        assertThat(log).contains("proxy=0").contains("other=0");
    }

    private String runProbe(VmSpec.Network net, String name) throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        VmSpec spec = task.spec(name, TestGuest.get(), net, false, null);
        String base = driver.apiBaseUrlForGuest(spec).orElseThrow();
        assertThat(base).isEqualTo("http://10.0.2.100:80");
        // busybox nc speaks enough HTTP/1.0 (the static busybox's wget crashes resolving names)
        String get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ";
        task.writeTask(get + "10.0.2.100 80 | grep -q proxy-ok; echo proxy=$?; "
                + get + "10.0.2.2 " + other.getAddress().getPort() + " | grep -q other-ok; echo other=$?");
        VmHandle h = driver.start(spec);
        started.add(h);
        driver.awaitReady(h, QemuDriverVmTest.BOOT);
        assertThat(driver.await(h, QemuDriverVmTest.BOOT)).isPresent();
        return task.read(GuestContract.OUT_AGENT_LOG);
    }

    private static HttpServer server(String body) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
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
