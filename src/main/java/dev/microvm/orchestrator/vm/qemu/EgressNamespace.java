package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.util.HostLock;
import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The network namespace QEMU runs in for network {@code full}: the internet, never the host.
 *
 * <p>QEMU's user-mode network opens ordinary sockets in the namespace QEMU runs in and maps the
 * guest's gateway to that namespace's loopback. Run in the host's namespace, that is every service
 * on the host. So a {@code full} VM's QEMU runs in {@value #NAME}, a namespace of its own whose only
 * way out is slirp4netns (user-mode, socket-level: no forwarding or NAT on the host) with
 * {@code --disable-host-loopback}, so nothing in the namespace maps to the host's loopback.
 * slirp4netns connects from the host's namespace, so traffic to the host's own addresses would
 * still arrive at the host: an nftables table inside the namespace rejects every address the host
 * has, refreshed each time a VM starts. Nothing is changed in the host's own namespace.
 *
 * <p>The credential proxy listens on the host's loopback; QEMU's per-connection relay to it enters
 * the host's namespace, pinned as {@value #HOST_NAME} (see {@link QemuArgv#proxyRelay}).
 *
 * <p>Creating namespaces and entering them needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); without it,
 * or without the tools, {@link #unavailableReason()} says why and the driver does not offer {@code full}.
 * All methods block: worker pool only.
 */
public final class EgressNamespace {
    public static final String NAME = "mvo-egress";
    public static final String HOST_NAME = "mvo-host";
    public static final Path NETNS_DIR = Path.of("/run/netns");
    /** The namespace's link network; link-local, so it is no part of the internet. */
    static final String NS_CIDR = "169.254.231.0/24";
    /** The address slirp4netns gives the namespace in {@link #NS_CIDR}. */
    static final String NS_ADDRESS = "169.254.231.100";
    private static final Path LOCK = Path.of("/run/lock/microvm-orchestrator-egress.lock");
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);
    private static final List<String> TOOLS = List.of("ip", "nsenter", "setsid", "slirp4netns", "nft");

    private EgressNamespace() {}

    public static Path path() {
        return NETNS_DIR.resolve(NAME);
    }

    public static Path hostPath() {
        return NETNS_DIR.resolve(HOST_NAME);
    }

    /** Why {@code full} cannot be enforced on this host, or empty when it can. */
    public static Optional<String> unavailableReason() {
        if (!runsAsRoot()) {
            return Optional.of("network full needs the orchestrator to run as root on a QEMU host (it runs QEMU in a network namespace that cannot reach the host)");
        }
        for (String tool : TOOLS) {
            if (QemuDriver.findOnPath(tool).isEmpty() && !Files.isExecutable(Path.of("/usr/sbin", tool)) && !Files.isExecutable(Path.of("/usr/bin", tool))) {
                return Optional.of("network full needs `" + tool + "` (Debian: apt-get install iproute2 util-linux slirp4netns nftables)");
            }
        }
        return Optional.empty();
    }

    /**
     * Makes sure the namespace exists, slirp4netns serves it, and its guard rejects every address the
     * host has now. Idempotent; serialized across processes.
     */
    public static void ensure() throws IOException {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) throw new IOException(why.get());
        HostLock.withLock(LOCK, ch -> {
            // the namespace this process runs in is "the host" the guests must not reach
            if (!Files.exists(hostPath())) run(List.of("ip", "netns", "attach", HOST_NAME, Long.toString(ProcessHandle.current().pid())));
            if (!Files.exists(path())) run(List.of("ip", "netns", "add", NAME));
            if (!linkUp()) startSlirp();
            run(List.of("nsenter", "--net=" + path(), "nft", "-f", "-"), guardRules(hostAddresses()));
            return null;
        });
    }

    private static boolean runsAsRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** True when the namespace's link is configured (the tap vanishes when slirp4netns ends). */
    private static boolean linkUp() throws IOException {
        String out = run(List.of("nsenter", "--net=" + path(), "ip", "-4", "-o", "addr", "show"));
        return out.contains(" " + NS_ADDRESS + "/");
    }

    /**
     * slirp4netns stays in the foreground: {@code setsid -f} detaches it from this process, which
     * then waits for the link. Never pass {@code --enable-sandbox}: its mount namespace is created
     * with shared propagation here and its unmounts remove every bind mount under /run/netns.
     */
    private static void startSlirp() throws IOException {
        run(List.of("setsid", "-f", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                "--cidr=" + NS_CIDR, "--netns-type=path", path().toString(), "eth0"), null, false);
        for (int i = 0; i < 100; i++) {
            if (linkUp()) return;
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while slirp4netns started", e);
            }
        }
        throw new IOException("slirp4netns started but the namespace " + NAME + " has no link after 5 s");
    }

    /**
     * One atomic nftables transaction: the table is created when missing and its set of host
     * addresses replaced. IPv6 is refused whole (the guest network is IPv4 only).
     */
    static String guardRules(List<String> hostAddresses) {
        StringBuilder s = new StringBuilder();
        s.append("table inet mvo_guard {\n")
                .append("  set host_v4 { type ipv4_addr; flags interval; }\n")
                .append("  chain out {\n")
                .append("    type filter hook output priority 0; policy accept;\n")
                .append("    oif \"lo\" accept\n")
                .append("    meta nfproto ipv6 reject\n")
                .append("    ip daddr @host_v4 reject\n")
                .append("  }\n")
                .append("}\n")
                .append("flush set inet mvo_guard host_v4\n");
        if (!hostAddresses.isEmpty()) {
            s.append("add element inet mvo_guard host_v4 { ").append(String.join(", ", hostAddresses)).append(" }\n");
        }
        return s.toString();
    }

    /**
     * Every IPv4 address of the host's interfaces except loopback (127/8 is the namespace's own), and
     * the whole subnet of every bridge interface: containers and VMs on a host bridge (docker0,
     * virbr0, cni-podman0) are services of this host, not of the internet.
     */
    static List<String> hostAddresses() throws SocketException {
        TreeSet<String> subnets = new TreeSet<>();
        List<java.net.InterfaceAddress> addresses = new ArrayList<>();
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            boolean bridge = Files.isDirectory(Path.of("/sys/class/net", nif.getName(), "bridge"));
            for (java.net.InterfaceAddress ia : nif.getInterfaceAddresses()) {
                InetAddress a = ia.getAddress();
                if (!(a instanceof Inet4Address) || a.isLoopbackAddress()) continue;
                addresses.add(ia);
                if (bridge && ia.getNetworkPrefixLength() > 0 && ia.getNetworkPrefixLength() < 32) {
                    subnets.add(subnet((Inet4Address) a, ia.getNetworkPrefixLength()));
                }
            }
        }
        // an interval set refuses overlapping elements: an address inside a listed subnet is covered
        TreeSet<String> out = new TreeSet<>(subnets);
        for (java.net.InterfaceAddress ia : addresses) {
            Inet4Address a = (Inet4Address) ia.getAddress();
            boolean covered = subnets.stream().anyMatch(n -> {
                int len = Integer.parseInt(n.substring(n.indexOf('/') + 1));
                return subnet(a, len).equals(n);
            });
            if (!covered) out.add(a.getHostAddress());
        }
        return new ArrayList<>(out);
    }

    /** "a.b.c.0/len" for an address and its prefix length. */
    static String subnet(Inet4Address a, int prefix) {
        byte[] b = a.getAddress();
        int v = ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        int masked = prefix == 0 ? 0 : v & (-1 << (32 - prefix));
        return ((masked >>> 24) & 0xff) + "." + ((masked >>> 16) & 0xff) + "." + ((masked >>> 8) & 0xff) + "." + (masked & 0xff) + "/" + prefix;
    }

    private static String run(List<String> cmd) throws IOException {
        return run(cmd, null);
    }

    private static String run(List<String> cmd, String stdin) throws IOException {
        return run(cmd, stdin, true);
    }

    /** @param capture false for a command that leaves a daemon behind, which must not inherit the pipe */
    private static String run(List<String> cmd, String stdin, boolean capture) throws IOException {
        return run(cmd, stdin, capture, COMMAND_TIMEOUT);
    }

    /** Runs one setup command with a scrubbed environment (slirp4netns outlives the call and must not hold the credential). */
    static String run(List<String> cmd, String stdin, boolean capture, Duration timeout) throws IOException {
        ProcessRunner runner = ProcessRunner.of(cmd).scrubbedEnvironment().timeout(timeout);
        if (stdin != null) runner.input(stdin);
        if (!capture) runner.discardOutput();
        return runner.run().orThrow().output();
    }
}
