package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.vfkit.VfkitSimulator;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * A Mac host, simulated: a network namespace holding vmnet's bridge ({@code bridge100}, the host at
 * {@code gateway}) with DHCP (scripts/simulated-mac-net), and vfkit as the simulator with a real
 * arm64 guest (scripts/vfkit-simulator). Whatever the test runs in the namespace ({@link #prefix})
 * sees only this network: its loopback and the bridge, no route out. Closing it deletes the
 * namespace. Needs root; locally a machine without it skips, in CI it fails.
 */
final class SimulatedMac implements AutoCloseable {
    final String name;
    final String gateway;
    final Path vfkit;

    private SimulatedMac(String name, String gateway, Path vfkit) {
        this.name = name;
        this.gateway = gateway;
        this.vfkit = vfkit;
    }

    /** Brings the namespace up with the host at {@code gatewayCidr} (e.g. 192.168.71.1/24). */
    static SimulatedMac up(Path dir, String gatewayCidr) throws Exception {
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"));
        String why = missing();
        if (why != null) {
            if (ci) fail("the simulated Mac cannot run here: " + why);
            Assumptions.abort(why);
        }
        String name = "mvo-mac-" + UUID.randomUUID().toString().substring(0, 8);
        run(List.of(script("simulated-mac-net").toString(), "up", name, gatewayCidr));
        return new SimulatedMac(name, gatewayCidr.substring(0, gatewayCidr.indexOf('/')), VfkitSimulator.installQemu(dir.resolve("vfkit-bin")));
    }

    private static String missing() throws IOException {
        if (!"root".equals(System.getProperty("user.name"))) return "the simulated Mac needs root (network namespaces, virtiofsd)";
        for (String tool : List.of("/usr/bin/qemu-system-aarch64", "/usr/lib/qemu/virtiofsd", "/usr/bin/busybox")) {
            if (!Path.of(tool).toFile().canExecute()) return "missing " + tool + " (scripts/install-deps.sh)";
        }
        return null;
    }

    /** Runs {@code command} inside the namespace: prefix it with this. */
    List<String> prefix() {
        return List.of("ip", "netns", "exec", name);
    }

    List<String> inside(List<String> command) {
        List<String> out = new ArrayList<>(prefix());
        out.addAll(command);
        return out;
    }

    static Path script(String name) {
        return TestGuest.projectDir().resolve("scripts").resolve(name);
    }

    private static void run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
    }

    @Override
    public void close() throws Exception {
        run(List.of(script("simulated-mac-net").toString(), "down", name));
    }
}
