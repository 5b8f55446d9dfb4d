package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.vm.qemu.QemuDriver;
import dev.microvm.orchestrator.vm.qemu.QemuOptions;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** Chooses and configures the hypervisor driver named in the configuration. */
public final class Drivers {

    /** File names the guest image directory must contain. */
    public static final String KERNEL_FILE = "vmlinux";
    public static final String INITRD_FILE = "initrd.cpio.gz";
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

    /** Kernel, initrd and command line of the configured guest image, checked to exist. */
    public static VmSpec.Boot boot(OrchestratorConfig config, HypervisorDriver driver) {
        Path dir = config.guestDir();
        Path kernel = dir.resolve(KERNEL_FILE);
        if ("process".equals(driver.name())) return new VmSpec.Boot(kernel, null, ""); // no kernel is booted
        Path initrd = dir.resolve(INITRD_FILE);
        if (!Files.isRegularFile(kernel) || !Files.isRegularFile(initrd)) {
            throw new IllegalArgumentException("guest image not found in " + dir + " (need " + KERNEL_FILE + " and " + INITRD_FILE
                    + "). Build the test guest with scripts/build-test-guest.sh or set guest_dir in config.json");
        }
        String console = "vfkit".equals(driver.name()) ? "hvc0" : "ttyS0";
        return new VmSpec.Boot(kernel, initrd, GuestContract.kernelCmdline(console, null));
    }
}
