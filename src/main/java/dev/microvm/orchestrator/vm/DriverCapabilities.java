package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a hypervisor driver can do on this host. Code that depends on a driver's abilities asks
 * here, never the driver's name.
 *
 * @param readOnlyShares     a share marked read-only reaches the guest read-only (QEMU 9p
 *                           {@code readonly=on}); false where every share is writable (vfkit)
 * @param mapsShareOwnership the guest sees ownership and mode of shared files through the
 *                           hypervisor's own mapping (QEMU 9p {@code security_model=mapped-xattr})
 *                           rather than the host's: the host then stamps a prepared workspace with
 *                           the guest agent's ownership ({@link MappedOwnership}), and nothing the
 *                           guest does (setuid bits, device nodes) reaches the host's own metadata
 * @param networks           the network policies enforced here
 * @param guestToHost        how the guest reaches host services (the credential proxy)
 * @param architectures      guest architectures booted (an image of another one is refused)
 * @param snapshots          a running guest can be snapshotted and resumed
 * @param bootsImages        boots a guest image (kernel, initrd, disks from its manifest); false
 *                           for a driver that runs the task runner another way
 */
public record DriverCapabilities(boolean readOnlyShares, boolean mapsShareOwnership, NetworkSupport networks,
                                 GuestRoute guestToHost, Set<String> architectures, boolean snapshots, boolean bootsImages) {

    public DriverCapabilities {
        Objects.requireNonNull(networks, "networks");
        Objects.requireNonNull(guestToHost, "guestToHost");
        architectures = Set.copyOf(architectures);
    }

    /**
     * How a guest reaches a service listening on the host.
     *
     * @param kind    {@code guestfwd} (the hypervisor relays a guest address to the host's loopback),
     *                {@code gateway} (the host is the guest network's gateway), {@code loopback}
     *                (no guest: the host itself), or {@code none}
     * @param address the address the guest uses, or empty for none
     */
    public record GuestRoute(String kind, String address) {
        public static final GuestRoute NONE = new GuestRoute("none", "");

        public GuestRoute {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(address, "address");
        }
    }

    /** The same abilities with other network policies. */
    public DriverCapabilities withNetworks(NetworkSupport other) {
        return new DriverCapabilities(readOnlyShares, mapsShareOwnership, other, guestToHost, architectures, snapshots, bootsImages);
    }

    public JsonObject toJson() {
        return new JsonObject()
                .put("read_only_shares", readOnlyShares)
                .put("maps_share_ownership", mapsShareOwnership)
                .put("networks", new JsonArray(new TreeSet<>(networks.enforced().keySet()).stream().toList()))
                .put("networks_refused", new JsonObject(new java.util.TreeMap<String, Object>(networks.refused())))
                .put("guest_to_host", new JsonObject().put("kind", guestToHost.kind()).put("address", guestToHost.address()))
                .put("architectures", new JsonArray(new TreeSet<>(architectures).stream().toList()))
                .put("snapshots", snapshots)
                .put("boots_images", bootsImages);
    }
}
