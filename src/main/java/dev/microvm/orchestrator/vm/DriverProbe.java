package dev.microvm.orchestrator.vm;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a driver found when it looked at its hypervisor on this host ({@link HypervisorDriver#probe}).
 *
 * @param hypervisor  the program that runs guests (for instance {@code qemu-system-x86_64})
 * @param version     its version, or null when it could not be read
 * @param accelerator the accelerator guests run with ({@code kvm}, {@code tcg}, {@code hvf}, {@code none})
 * @param problem     why no guest can boot here, or null when one can
 * @param details     further facts a driver reports (free-form, shown as they are)
 */
public record DriverProbe(String hypervisor, String version, String accelerator, String problem, Map<String, String> details) {

    public DriverProbe {
        Objects.requireNonNull(hypervisor, "hypervisor");
        Objects.requireNonNull(accelerator, "accelerator");
        details = Map.copyOf(details);
    }

    public static DriverProbe ok(String hypervisor, String version, String accelerator, Map<String, String> details) {
        return new DriverProbe(hypervisor, version, accelerator, null, details);
    }

    public static DriverProbe failed(String hypervisor, String version, String accelerator, String problem, Map<String, String> details) {
        return new DriverProbe(hypervisor, version, accelerator, Objects.requireNonNull(problem, "problem"), details);
    }

    public Optional<String> problemIfAny() {
        return Optional.ofNullable(problem);
    }
}
