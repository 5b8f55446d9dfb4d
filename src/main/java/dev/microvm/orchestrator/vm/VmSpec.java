package dev.microvm.orchestrator.vm;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Declarative description of one microVM. Drivers turn it into a hypervisor invocation with a
 * pure function; everything is validated here so a driver never sees a half-valid spec.
 *
 * @param name      unique, also used to tag the hypervisor process (so a VM whose handle was
 *                  never persisted can still be found after a crash)
 * @param controlDir a 0700 directory for control sockets, pid files and the like
 * @param labels    opaque key/values carried into the handle (task id, slot)
 */
public record VmSpec(
        String name,
        int cpus,
        int memoryMiB,
        Boot boot,
        List<Disk> disks,
        List<Share> shares,
        Network network,
        Path consoleLog,
        Path controlDir,
        Map<String, String> labels) {

    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final Pattern TAG = Pattern.compile("[a-zA-Z0-9_-]{1,31}");

    public VmSpec {
        Objects.requireNonNull(boot, "boot");
        Objects.requireNonNull(network, "network");
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("VM name must match " + NAME + ", got: " + name);
        }
        if (cpus < 1 || cpus > 64) throw new IllegalArgumentException("cpus must be 1..64, got " + cpus);
        if (memoryMiB < 128 || memoryMiB > 262_144) {
            throw new IllegalArgumentException("memory must be 128..262144 MiB, got " + memoryMiB);
        }
        disks = List.copyOf(disks == null ? List.of() : disks);
        shares = List.copyOf(shares == null ? List.of() : shares);
        labels = Map.copyOf(labels == null ? Map.of() : labels);
        requireAbsolute(consoleLog, "consoleLog");
        requireAbsolute(controlDir, "controlDir");
        long distinctTags = shares.stream().map(Share::tag).distinct().count();
        if (distinctTags != shares.size()) throw new IllegalArgumentException("share tags must be unique");
    }

    /** Direct kernel boot. */
    public record Boot(Path kernel, Path initrd, String cmdline) {
        public Boot {
            requireAbsolute(kernel, "kernel");
            if (initrd != null) requireAbsolute(initrd, "initrd");
            cmdline = cmdline == null ? "" : cmdline;
            if (cmdline.indexOf('\n') >= 0 || cmdline.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("kernel cmdline must be one line");
            }
        }
    }

    /** A raw disk image attached as virtio-blk. */
    public record Disk(Path path, boolean readOnly, String id) {
        public Disk {
            requireAbsolute(path, "disk path");
            if (id == null || !TAG.matcher(id).matches()) throw new IllegalArgumentException("disk id must match " + TAG);
        }
    }

    /** A host directory shared into the guest under a mount tag. */
    public record Share(Path hostPath, String tag, boolean readOnly) {
        public Share {
            requireAbsolute(hostPath, "share path");
            if (tag == null || !TAG.matcher(tag).matches()) throw new IllegalArgumentException("share tag must match " + TAG);
        }
    }

    /**
     * Guest networking. {@code NONE}: no NIC. {@code NAT}: the internet, never the host (network
     * full). {@code API_ONLY}: the guest reaches only {@code apiProxyPort} on the host (the
     * credential proxy). {@code ALLOWLIST}: that, plus {@code egressProxyPort} (the task's listener
     * on the egress proxy, which lets through only the task's allowed domains); no direct route out.
     */
    public record Network(Mode mode, int apiProxyPort, int egressProxyPort) {
        public enum Mode {
            NONE("none"), NAT("full"), API_ONLY("api-only"), ALLOWLIST("allowlist");

            private final String policy;

            Mode(String policy) {
                this.policy = policy;
            }

            /** The network policy (run_task's {@code network}) this mode carries out. */
            public String policy() {
                return policy;
            }
        }

        public Network {
            Objects.requireNonNull(mode, "mode");
            if (mode == Mode.API_ONLY && (apiProxyPort < 1 || apiProxyPort > 65535)) {
                throw new IllegalArgumentException("api-only networking needs the proxy port");
            }
            if (mode == Mode.ALLOWLIST && (egressProxyPort < 1 || egressProxyPort > 65535)) {
                throw new IllegalArgumentException("allowlist networking needs the egress proxy port");
            }
            if (mode != Mode.ALLOWLIST && egressProxyPort != 0) throw new IllegalArgumentException("only allowlist networking has an egress proxy");
        }

        public Network(Mode mode, int apiProxyPort) {
            this(mode, apiProxyPort, 0);
        }

        public static Network none() { return new Network(Mode.NONE, 0); }
        public static Network nat() { return new Network(Mode.NAT, 0); }
    }

    static void requireAbsolute(Path p, String what) {
        if (p == null || !p.isAbsolute()) throw new IllegalArgumentException(what + " must be an absolute path, got: " + p);
        if (p.toString().indexOf(',') >= 0) {
            // Both QEMU and vfkit split device options on commas.
            throw new IllegalArgumentException(what + " must not contain a comma: " + p);
        }
    }
}
