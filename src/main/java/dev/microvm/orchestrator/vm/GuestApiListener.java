package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the host's credential proxy must listen, besides its loopback address, for a guest to
 * reach it: an address of the host on the guest's network (vfkit NAT: the vmnet gateway, which
 * exists only once the VM runs), or a unix socket the hypervisor connects the guest's channel to
 * (vfkit virtio-vsock). Exactly one of the two is set.
 */
public record GuestApiListener(String address, Path unixSocket) {

    public GuestApiListener {
        if ((address == null) == (unixSocket == null)) throw new IllegalArgumentException("a guest API listener is an address or a unix socket");
        if (unixSocket != null && !unixSocket.isAbsolute()) throw new IllegalArgumentException("unix socket path must be absolute: " + unixSocket);
    }

    public static GuestApiListener onAddress(String address) {
        return new GuestApiListener(address, null);
    }

    public static GuestApiListener onUnixSocket(Path socket) {
        return new GuestApiListener(null, socket);
    }

    public JsonObject toJson() {
        return address != null ? new JsonObject().put("address", address) : new JsonObject().put("unix_socket", unixSocket.toString());
    }

    public static Optional<GuestApiListener> fromJson(JsonObject json) {
        if (json == null) return Optional.empty();
        if (json.getString("address") != null) return Optional.of(onAddress(json.getString("address")));
        if (json.getString("unix_socket") != null) return Optional.of(onUnixSocket(Path.of(json.getString("unix_socket"))));
        return Optional.empty();
    }
}
