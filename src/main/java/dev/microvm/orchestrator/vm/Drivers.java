package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.vm.qemu.QemuDriver;
import dev.microvm.orchestrator.vm.qemu.QemuOptions;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;

import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;


/** Chooses and configures the hypervisor driver named in the configuration. */
public final class Drivers {

    /** In the state's run directory: present once KVM failed to boot a guest here ({@code accelerator: auto} then uses TCG). */
    public static final String KVM_VERDICT_FILE = "kvm-does-not-boot-guests";

    private static final Set<String> BUILT_IN = Set.of("qemu", "vfkit");

    private Drivers() {}

    public static HypervisorDriver create(OrchestratorConfig config, StatePaths paths) {
        return switch (config.driver()) {
            case "qemu" -> new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.parse(config.accelerator()),
                    paths.runDir().resolve(KVM_VERDICT_FILE)));
            case "vfkit" -> new VfkitDriver(new VfkitOptions(config.vfkitBinary(), true, paths.root().toAbsolutePath().toString()));
            default -> provider(config.driver()).create(config, paths);
        };
    }

    /** Every driver name this build can create: the built-in ones and those of providers on the classpath. */
    public static Set<String> names() {
        Set<String> names = new TreeSet<>(BUILT_IN);
        ServiceLoader.load(DriverProvider.class).forEach(p -> names.add(p.name()));
        return names;
    }

    /** Refuses, with the names there are, a driver this build cannot create. */
    public static String requireAvailable(String name) {
        if (!names().contains(name)) throw unavailable(name);
        return name;
    }

    private static DriverProvider provider(String name) {
        for (DriverProvider p : ServiceLoader.load(DriverProvider.class)) {
            if (p.name().equals(name)) return p;
        }
        throw unavailable(name);
    }

    private static IllegalArgumentException unavailable(String name) {
        return new IllegalArgumentException("driver '" + name + "' is not available in this build; drivers: " + String.join(", ", names()));
    }

    /**
     * The configured guest image, read through its manifest and checked against the driver, or
     * empty for a driver that boots no image.
     */
    public static Optional<GuestImage> image(OrchestratorConfig config, HypervisorDriver driver) {
        DriverCapabilities can = driver.capabilities();
        if (!can.bootsImages()) return Optional.empty();
        GuestImage image = GuestImage.load(config.guestDir());
        if (!can.architectures().contains(image.architecture())) {
            throw new GuestImage.InvalidImage("guest image " + image.dir() + ": field 'architecture' is " + image.architecture()
                    + ", but the " + driver.name() + " driver here boots " + new java.util.TreeSet<>(can.architectures()) + " guests");
        }
        return Optional.of(image);
    }
}
