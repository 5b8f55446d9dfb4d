package dev.microvm.orchestrator.vm.vfkit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Host-side vfkit settings.
 *
 * @param binary  vfkit executable (absolute, or found on PATH): configuration key {@code vfkit_binary}
 * @param rosetta share Rosetta into the guest (Apple Silicon; ignored where missing) so an
 *                aarch64 guest can run x86_64 binaries
 * @param macSeed what makes this host's guest MAC addresses its own (the state directory): with the
 *                slot number it gives each slot one stable address ({@link #macAddress})
 */
public record VfkitOptions(String binary, boolean rosetta, String macSeed) {
    /**
     * Oldest vfkit that accepts every flag the driver emits: {@code --pidfile} and the graceful
     * SIGTERM handling arrived in v0.6.2 (v0.6.0 and v0.6.1 reject --pidfile as an unknown flag).
     * The devices ({@code virtio-net,nat,mac=}, {@code virtio-vsock,port=,socketURL=,listen},
     * {@code virtio-fs}, {@code virtio-blk,deviceId=}, {@code virtio-serial,logFilePath=},
     * {@code rosetta,ignore-if-missing}) and {@code --restful-uri} are older.
     */
    public static final int[] MIN_VERSION = {0, 6, 2};

    public VfkitOptions {
        Objects.requireNonNull(binary, "binary");
        Objects.requireNonNull(macSeed, "macSeed");
    }

    public VfkitOptions(String binary, boolean rosetta) {
        this(binary, rosetta, "");
    }

    public static VfkitOptions defaults() {
        return new VfkitOptions("vfkit", true);
    }

    /**
     * The guest NIC's MAC address for {@code slot}: the same for every task of the slot (so vmnet's
     * DHCP server hands the slot the same lease), different between slots and between state
     * directories. Locally administered (bit 1 of the first byte set), unicast (bit 0 clear).
     */
    public String macAddress(String slot) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest((macSeed + "\0slot\0" + slot).getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        h[0] = (byte) ((h[0] & 0xfc) | 0x02);
        return HexFormat.ofDelimiter(":").formatHex(h, 0, 6);
    }
}
