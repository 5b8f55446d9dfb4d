package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The host's address on vfkit's NAT (macOS vmnet shared mode), as this host has it: the guest's
 * gateway, where the credential proxy listens for {@code full} guests. Never assumed: a Mac can
 * move the shared network away from its 192.168.64.0/24 default.
 *
 * <ul>
 *   <li>While a VM runs, vmnet's bridge ({@code bridge100}, {@code bridge101}…: macOS numbers the
 *       bridges vmnet creates from 100, {@code bridge0} is Thunderbolt's) holds the address.</li>
 *   <li>Before that, macOS's vmnet settings
 *       ({@code /Library/Preferences/SystemConfiguration/com.apple.vmnet.plist}, key
 *       {@code Shared_Net_Address}) say what the bridge will hold.</li>
 * </ul>
 * Where both are present the bridge holding the configured address is the one; without settings,
 * the lowest-numbered vmnet bridge.
 */
public final class VmnetGateway {
    static final Pattern VMNET_BRIDGE = Pattern.compile("bridge(\\d+)");
    static final int FIRST_VMNET_BRIDGE = 100;
    static final String VMNET_SETTINGS = "/Library/Preferences/SystemConfiguration/com.apple.vmnet";
    private static final Duration SETTINGS_TIMEOUT = Duration.ofSeconds(5);

    /** One network interface as the gateway lookup sees it. */
    record Interface(String name, boolean up, List<String> ipv4) {}

    private final Supplier<List<Interface>> interfaces;
    private final Supplier<Optional<String>> configured;

    VmnetGateway(Supplier<List<Interface>> interfaces, Supplier<Optional<String>> configured) {
        this.interfaces = interfaces;
        this.configured = configured;
    }

    /** This host's interfaces; on macOS also its vmnet settings. */
    public static VmnetGateway system() {
        boolean mac = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("mac");
        return new VmnetGateway(VmnetGateway::systemInterfaces, mac ? VmnetGateway::sharedNetAddress : Optional::empty);
    }

    /**
     * The guest's gateway: the vmnet bridge's address, or the configured one while no bridge
     * exists; empty when neither is there (no VM has run and vmnet has no settings). Blocking
     * (it may read the settings with {@code defaults}): worker threads only.
     */
    public Optional<String> find() {
        Optional<String> wanted = configured.get();
        Optional<String> live = onBridge(wanted);
        return live.isPresent() ? live : wanted;
    }

    /** The address a vmnet bridge holds now: {@code wanted} when a bridge holds it, else the lowest-numbered bridge's. */
    Optional<String> onBridge(Optional<String> wanted) {
        List<Interface> bridges = new ArrayList<>();
        for (Interface i : interfaces.get()) {
            Matcher m = VMNET_BRIDGE.matcher(i.name());
            if (m.matches() && Integer.parseInt(m.group(1)) >= FIRST_VMNET_BRIDGE && i.up() && !i.ipv4().isEmpty()) bridges.add(i);
        }
        if (wanted.isPresent()) {
            for (Interface b : bridges) if (b.ipv4().contains(wanted.get())) return wanted;
        }
        return bridges.stream().min(Comparator.comparingInt(b -> bridgeNumber(b.name()))).map(b -> b.ipv4().get(0));
    }

    private static int bridgeNumber(String name) {
        Matcher m = VMNET_BRIDGE.matcher(name);
        return m.matches() ? Integer.parseInt(m.group(1)) : Integer.MAX_VALUE;
    }

    private static List<Interface> systemInterfaces() {
        List<Interface> out = new ArrayList<>();
        try {
            for (NetworkInterface n : NetworkInterface.networkInterfaces().toList()) {
                List<String> v4 = n.inetAddresses().filter(a -> a instanceof Inet4Address).map(a -> a.getHostAddress()).toList();
                out.add(new Interface(n.getName(), n.isUp(), v4));
            }
        } catch (SocketException e) {
            return List.of();
        }
        return out;
    }

    /** macOS: {@code defaults read …/com.apple.vmnet Shared_Net_Address}; empty when unset or unreadable. */
    private static Optional<String> sharedNetAddress() {
        try {
            ProcessRunner.Result r = ProcessRunner.of("defaults", "read", VMNET_SETTINGS, "Shared_Net_Address")
                    .timeout(SETTINGS_TIMEOUT).run();
            String v = r.output().strip();
            return r.exitCode() == 0 && v.matches("\\d{1,3}(\\.\\d{1,3}){3}") ? Optional.of(v) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
