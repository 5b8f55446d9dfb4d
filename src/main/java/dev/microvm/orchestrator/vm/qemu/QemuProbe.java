package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.util.ProcessRunner;

import dev.microvm.orchestrator.vm.DriverProbe;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether QEMU can run a guest here, in well under a second: {@code --version} answers, and an
 * empty VM of the driver's machine type with its accelerator and CPU model ({@code -S}: no CPU
 * runs) is still up after {@link #ALIVE}. A KVM that cannot run this host's CPU model aborts at
 * once ("failed to set MSR"); a missing or inaccessible /dev/kvm fails at once too.
 */
final class QemuProbe {
    private static final Pattern VERSION = Pattern.compile("QEMU emulator version (\\S+)");
    static final Duration ALIVE = Duration.ofMillis(300);
    private static final Duration VERSION_TIMEOUT = Duration.ofSeconds(5);

    private QemuProbe() {}

    static DriverProbe probe(QemuOptions options) {
        String hypervisor = java.nio.file.Path.of(options.binary()).getFileName().toString();
        String accel = options.accelerator().name().toLowerCase(Locale.ROOT);
        Map<String, String> details = Map.of("binary", options.binary(), "machine", options.machine());
        if (QemuDriver.findOnPath(options.binary()).isEmpty()) {
            return DriverProbe.failed(hypervisor, null, accel, options.binary() + " not found on PATH (Debian/Ubuntu: apt-get install qemu-system-x86)", details);
        }
        try {
            Ran version = run(List.of(options.binary(), "--version"), VERSION_TIMEOUT);
            Matcher m = VERSION.matcher(version.output());
            if (!version.exited() || version.exitCode() != 0 || !m.find()) {
                return DriverProbe.failed(hypervisor, null, accel, "'" + options.binary() + " --version' did not answer: " + tail(version.output()), details);
            }
            List<String> empty = new ArrayList<>(List.of(options.binary(), "-machine", options.machine()));
            empty.addAll(QemuArgv.accelerator(options));
            empty.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-S"));
            Ran vm = run(empty, ALIVE);
            if (vm.exited()) {
                return DriverProbe.failed(hypervisor, m.group(1), accel, "QEMU with accelerator " + accel + " exits at once (exit "
                        + vm.exitCode() + "): " + tail(vm.output()), details);
            }
            return DriverProbe.ok(hypervisor, m.group(1), accel, details);
        } catch (IOException e) {
            return DriverProbe.failed(hypervisor, null, accel, "cannot run " + options.binary() + ": " + e.getMessage(), details);
        }
    }

    /** How a command ended: {@code exited} is false when it was still running after {@code wait} (it is killed). */
    record Ran(boolean exited, int exitCode, String output) {}

    /**
     * Runs a command with a scrubbed environment for at most {@code wait}; one still running then is
     * killed (for the empty VM that is the healthy outcome).
     */
    static Ran run(List<String> command, Duration wait) throws IOException {
        try {
            ProcessRunner.Result r = ProcessRunner.of(command).scrubbedEnvironment().timeout(wait).outputLimit(16_384).run();
            return new Ran(true, r.exitCode(), r.output());
        } catch (ProcessRunner.TimeoutException stillRunning) {
            return new Ran(false, -1, "");
        }
    }

    private static String tail(String output) {
        String s = output.strip().replaceAll("\\s+", " ");
        return s.length() <= 400 ? s : "…" + s.substring(s.length() - 400);
    }
}
