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
    /** Oldest vfkit whose REST API and SIGTERM handling the driver relies on. */
    public static final int[] MIN_VERSION = {0, 6, 0};

    public VfkitOptions {
        Objects.requireNonNull(binary, "binary");
    }

    public static VfkitOptions defaults() {
        return new VfkitOptions("vfkit", true);
    }
}
