package dev.microvm.orchestrator.vm.vfkit;

import java.util.Objects;

/**
 * Host-side vfkit settings.
 *
 * @param binary  vfkit executable (absolute, or found on PATH)
 * @param rosetta share Rosetta into the guest (Apple Silicon; ignored where missing) so an
 *                aarch64 guest can run x86_64 binaries
 */
public record VfkitOptions(String binary, boolean rosetta) {
    /**
     * Oldest vfkit that accepts every flag the driver emits: {@code --pidfile} and the graceful
     * SIGTERM handling arrived in v0.6.2 (v0.6.0 and v0.6.1 reject --pidfile as an unknown flag).
     */
    public static final int[] MIN_VERSION = {0, 6, 2};

    public VfkitOptions {
        Objects.requireNonNull(binary, "binary");
    }

    public static VfkitOptions defaults() {
        return new VfkitOptions("vfkit", true);
    }
}
