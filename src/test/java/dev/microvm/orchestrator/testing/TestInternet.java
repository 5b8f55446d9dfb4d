package dev.microvm.orchestrator.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in for the internet that reaches nothing outside this machine: a network namespace of its
 * own, joined to the host by a veth pair on a 198.18.x.0/24 benchmarking network, with busybox
 * httpd serving a marker page from inside it. The host's end of the pair is one more address the
 * host has, which is exactly what a guest under network full must not reach. Needs root.
 */
public final class TestInternet implements AutoCloseable {
    public final String namespace;
    /** The host's address on the link (a host address, not the internet). */
    public final String hostAddress;
    /** The "internet" server's address, inside the namespace. */
    public final String serverAddress;
    public final int port = 8080;
    public final String marker;
    private final String hostLink;
    private final List<Process> servers = new ArrayList<>();

    private TestInternet(String namespace, String hostLink, int octet, String marker) {
        this.namespace = namespace;
        this.hostLink = hostLink;
        this.hostAddress = "198.18." + octet + ".1";
        this.serverAddress = "198.18." + octet + ".2";
        this.marker = marker;
    }

    /** True when this process may create network namespaces (root with ip and busybox). */
    public static boolean available() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))
                    && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Skips the calling test when this host cannot create test namespaces (or, with {@code full},
     * cannot enforce network full on QEMU); with CI=true or MVO_REQUIRE_VM=1 it fails instead.
     */
    public static void require(boolean full) {
        String missing = !available() ? "root with ip and busybox (to create a test network namespace)"
                : full ? dev.microvm.orchestrator.vm.qemu.EgressNamespace.unavailableReason().orElse(null) : null;
        if (missing == null) return;
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"));
        if (ci) org.junit.jupiter.api.Assertions.fail("this network test needs " + missing);
        org.junit.jupiter.api.Assumptions.abort("this network test needs " + missing);
    }

    public static TestInternet start(Path dir) throws IOException, InterruptedException {
        int octet = ThreadLocalRandom.current().nextInt(2, 250);
        String id = Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);
        String marker = "internet-" + id;
        TestInternet net = new TestInternet("mvo-test-" + id, "mvt" + id + "h", octet, marker);
        try {
            net.run("ip", "netns", "add", net.namespace);
            net.run("ip", "link", "add", net.hostLink, "type", "veth", "peer", "name", "mvt" + id + "n", "netns", net.namespace);
            net.run("ip", "addr", "add", net.hostAddress + "/24", "dev", net.hostLink);
            net.run("ip", "link", "set", net.hostLink, "up");
            net.run("ip", "netns", "exec", net.namespace, "ip", "addr", "add", net.serverAddress + "/24", "dev", "mvt" + id + "n");
            net.run("ip", "netns", "exec", net.namespace, "ip", "link", "set", "mvt" + id + "n", "up");
            net.run("ip", "netns", "exec", net.namespace, "ip", "link", "set", "lo", "up");
            Path www = dir.resolve("www-" + id);
            Files.createDirectories(www);
            Files.writeString(www.resolve("index.html"), marker + "\n", StandardCharsets.UTF_8);
            net.serve(www);
            return net;
        } catch (IOException | InterruptedException | RuntimeException e) {
            net.close();
            throw e;
        }
    }

    /**
     * A DNS server in the namespace, on {@link #serverAddress} port 53, that answers every A query
     * with {@link #serverAddress} (a few lines of Python: the static busybox has no dnsd).
     */
    public void serveDns() throws IOException, InterruptedException {
        String py = String.join("\n",
                "import socket",
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
                "s.bind(('" + serverAddress + "', 53))",
                "ip = bytes(int(x) for x in '" + serverAddress + "'.split('.'))",
                "while True:",
                "    q, peer = s.recvfrom(512)",
                "    end = 12",
                "    while q[end] != 0: end += q[end] + 1",
                "    question = q[12:end + 5]",
                "    answer = b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04' + ip",
                "    s.sendto(q[:2] + b'\\x81\\x80\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x00' + question + answer, peer)");
        Process p = new ProcessBuilder("ip", "netns", "exec", namespace, "python3", "-c", py).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        servers.add(p);
        Thread.sleep(500);
        if (!p.isAlive()) throw new IOException("the test DNS server did not start in " + namespace);
    }

    private void serve(Path www) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ip", "netns", "exec", namespace, "busybox", "httpd", "-f", "-p",
                serverAddress + ":" + port, "-h", www.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        servers.add(p);
        for (int i = 0; i < 50; i++) {
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(serverAddress, port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IOException("busybox httpd did not start in " + namespace);
    }

    private void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }

    @Override
    public void close() {
        servers.forEach(p -> {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        });
        for (String[] cmd : new String[][]{{"ip", "link", "del", hostLink}, {"ip", "netns", "del", namespace}}) {
            try {
                new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(10, TimeUnit.SECONDS);
            } catch (IOException e) {
                // best effort: the namespace name is unique per test
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
