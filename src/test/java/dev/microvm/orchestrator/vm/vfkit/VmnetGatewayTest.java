package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.DetachedSpawner;
import dev.microvm.orchestrator.vm.GuestApiListener;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The vmnet gateway comes from the host's interfaces and vmnet settings, and is what a vfkit guest is told. */
class VmnetGatewayTest {
    @TempDir Path tmp;

    private static VmnetGateway.Interface up(String name, String... v4) {
        return new VmnetGateway.Interface(name, true, List.of(v4));
    }

    @Test
    void theVmnetBridgesAddressIsTheGatewayNotThunderboltsBridgeNorTheLan() {
        VmnetGateway g = new VmnetGateway(() -> List.of(up("en0", "10.1.2.3"), up("bridge0", "169.254.1.1"),
                up("bridge101", "192.168.105.1"), up("bridge100", "192.168.77.1")), Optional::empty);
        assertThat(g.find()).contains("192.168.77.1");
    }

    @Test
    void theConfiguredSharedAddressPicksItsBridgeAndStandsInWhileNoBridgeExists() {
        VmnetGateway live = new VmnetGateway(() -> List.of(up("bridge100", "192.168.77.1"), up("bridge101", "192.168.90.1")),
                () -> Optional.of("192.168.90.1"));
        assertThat(live.find()).contains("192.168.90.1");
        VmnetGateway before = new VmnetGateway(() -> List.of(up("en0", "10.1.2.3")), () -> Optional.of("192.168.90.1"));
        assertThat(before.find()).contains("192.168.90.1");
    }

    @Test
    void aBridgeThatIsDownOrHasNoIpv4AddressIsNoGatewayAndNothingIsAssumed() {
        VmnetGateway g = new VmnetGateway(() -> List.of(new VmnetGateway.Interface("bridge100", false, List.of("192.168.64.1")),
                up("bridge102")), Optional::empty);
        assertThat(g.find()).isEmpty();
    }

    @Test
    void theSystemLookupReadsThisHostsInterfaces() {
        // this host has no vmnet bridge outside a simulator's namespace: nothing, rather than a guess
        Optional<String> found = VmnetGateway.system().find();
        found.ifPresent(a -> assertThat(a).matches("\\d+\\.\\d+\\.\\d+\\.\\d+"));
    }

    private VmSpec spec(VmSpec.Network net) {
        return new VmSpec("t1", 1, 512, new VmSpec.Boot(tmp.resolve("Image"), tmp.resolve("initrd"), "console=hvc0"), List.of(), List.of(),
                net, tmp.resolve("console.log"), tmp.resolve("ctl"), Map.of("slot", "0"));
    }

    private VfkitDriver driver(Optional<String> configured, VmnetGateway.Interface... interfaces) {
        return new VfkitDriver(new VfkitOptions("vfkit", false, tmp.toString()), new DetachedSpawner(), Duration.ofSeconds(1),
                new VmnetGateway(() -> List.of(interfaces), () -> configured));
    }

    @Test
    void underFullTheGuestIsToldTheGatewayAndTheProxyIsToListenThereOnly() {
        VfkitDriver d = driver(Optional.empty(), up("bridge100", "192.168.77.1"));
        VmSpec full = spec(new VmSpec.Network(VmSpec.Network.Mode.NAT, 41234));
        assertThat(d.apiBaseUrlForGuest(full)).contains("http://192.168.77.1:41234");
        assertThat(d.apiListener(full)).contains(GuestApiListener.onAddress("192.168.77.1"));
        assertThat(d.guestEnvironment(full)).isEmpty();
        assertThat(d.capabilities().guestToHost().address()).isEqualTo("192.168.77.1");
        // no vmnet at all: no route (the task fails no_api_route) rather than a guessed address
        VfkitDriver none = driver(Optional.empty(), up("en0", "10.1.2.3"));
        assertThat(none.apiBaseUrlForGuest(full)).isEmpty();
        assertThat(none.apiListener(full)).isEmpty();
    }

    @Test
    void underApiOnlyTheGuestUsesItsLoopbackRelayAndTheProxyListensOnTheTasksVsockSocket() {
        VfkitDriver d = driver(Optional.empty());
        VmSpec apiOnly = spec(new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, 41234));
        assertThat(d.apiBaseUrlForGuest(apiOnly)).contains("http://127.0.0.1:" + GuestContract.API_RELAY_PORT);
        assertThat(d.apiListener(apiOnly)).contains(GuestApiListener.onUnixSocket(tmp.resolve("ctl").resolve("api.sock")));
        assertThat(d.guestEnvironment(apiOnly)).containsEntry("MVO_API_VSOCK_PORT", "1100").containsEntry("MVO_API_RELAY_PORT", "80");
        VmSpec none = spec(VmSpec.Network.none());
        assertThat(d.apiBaseUrlForGuest(none)).isEmpty();
        assertThat(d.apiListener(none)).isEmpty();
        assertThat(d.guestEnvironment(none)).isEmpty();
    }
}
