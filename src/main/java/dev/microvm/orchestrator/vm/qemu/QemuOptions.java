package dev.microvm.orchestrator.vm.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Host-side QEMU settings. {@code accelerator} is resolved (never AUTO) by the time argv is built.
 *
 * @param tscKhz     under TCG the guest kernel's PIT calibration of the TSC is timing-sensitive and
 *                   can hang a loaded host; passing the host TSC frequency ({@code tsc_early_khz}) skips it
 * @param kvmVerdict set when {@code auto} chose KVM: the file that records, once a guest failed to
 *                   boot under KVM, that this host's KVM does not work (later resolutions pick TCG)
 */
public record QemuOptions(String binary, String machine, Accelerator accelerator, OptionalLong tscKhz, Path kvmVerdict) {

    public enum Accelerator {
        AUTO, KVM, TCG;

        public static Accelerator parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new IllegalArgumentException("QEMU accelerator must be auto, kvm or tcg, got: " + s);
            }
        }
    }

    public QemuOptions {
        Objects.requireNonNull(binary, "binary");
        Objects.requireNonNull(machine, "machine");
        Objects.requireNonNull(accelerator, "accelerator");
        tscKhz = tscKhz == null ? OptionalLong.empty() : tscKhz;
    }

    public QemuOptions(String binary, String machine, Accelerator accelerator, OptionalLong tscKhz) {
        this(binary, machine, accelerator, tscKhz, null);
    }

    /** x86_64 microvm with the given accelerator, resolved against this host. */
    public static QemuOptions forHost(Accelerator requested) {
        return forHost(requested, null);
    }

    /**
     * Like {@link #forHost(Accelerator)}; with {@code auto}, a host whose KVM once failed to boot a
     * guest (recorded in {@code kvmVerdict}) gets TCG. /dev/kvm opening proves little: nested KVM
     * can accept guests and never run them.
     */
    public static QemuOptions forHost(Accelerator requested, Path kvmVerdict) {
        boolean kvmRuledOut = kvmVerdict != null && Files.exists(kvmVerdict);
        Accelerator accel = requested != Accelerator.AUTO ? requested
                : kvmUsable() && !kvmRuledOut ? Accelerator.KVM : Accelerator.TCG;
        // Resolved here: the hypervisor later runs with a scrubbed PATH.
        String binary = QemuDriver.findOnPath("qemu-system-x86_64").map(Object::toString).orElse("qemu-system-x86_64");
        return new QemuOptions(binary, "microvm", accel, accel == Accelerator.TCG ? hostTscKhz() : OptionalLong.empty(),
                requested == Accelerator.AUTO && accel == Accelerator.KVM ? kvmVerdict : null);
    }

    /** /dev/kvm opens; this does not prove KVM boots guests (hence the boot timeout). */
    static boolean kvmUsable() {
        Path kvm = Path.of("/dev/kvm");
        return Files.isReadable(kvm) && Files.isWritable(kvm);
    }

    static OptionalLong hostTscKhz() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("cpu MHz")) {
                    double mhz = Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
                    return OptionalLong.of(Math.round(mhz * 1000));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no hint: the guest calibrates on its own
        }
        return OptionalLong.empty();
    }
}
