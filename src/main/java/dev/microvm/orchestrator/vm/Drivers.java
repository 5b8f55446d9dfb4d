package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.vm.qemu.QemuDriver;
import dev.microvm.orchestrator.vm.qemu.QemuOptions;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;


/** Chooses and configures the hypervisor driver named in the configuration. */
public final class Drivers {

    /** In the state's run directory: present once KVM failed to boot a guest here ({@code accelerator: auto} then uses TCG). */
    public static final String KVM_VERDICT_FILE = "kvm-does-not-boot-guests";

    private Drivers() {}

    public static HypervisorDriver create(OrchestratorConfig config, StatePaths paths) {
        return switch (config.driver()) {
            case "qemu" -> new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.parse(config.accelerator()),
                    paths.runDir().resolve(KVM_VERDICT_FILE)));
            case "vfkit" -> new VfkitDriver(VfkitOptions.defaults());
            // host processes running the in-guest runner: no isolation, for tests and fault injection only
            case "process" -> new ProcessDriver();
            default -> throw new IllegalArgumentException("driver '" + config.driver() + "' is not available in this build");
        };
    }

    /**
     * The configured guest image, read through its manifest and checked against the driver, or
     * empty for a driver that boots no image.
     */
    public static java.util.Optional<GuestImage> image(OrchestratorConfig config, HypervisorDriver driver) {
        DriverCapabilities can = driver.capabilities();
        if (!can.bootsImages()) return java.util.Optional.empty();
        GuestImage image = GuestImage.load(config.guestDir());
        if (!can.architectures().contains(image.architecture())) {
            throw new GuestImage.InvalidImage("guest image " + image.dir() + ": field 'architecture' is " + image.architecture()
                    + ", but the " + driver.name() + " driver here boots " + new java.util.TreeSet<>(can.architectures()) + " guests");
        }
        return java.util.Optional.of(image);
    }
}
