package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.DriverContract;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestRunnerFiles;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.SlotDisk;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The driver contract against the vfkit simulator, which enforces vfkit's argv grammar and REST API. */
class VfkitDriverContractTest extends DriverContract {
    @Override
    protected HypervisorDriver driver(boolean guestIgnoresStop) throws Exception {
        return new VfkitDriver(new VfkitOptions(VfkitSimulator.install(tmp.resolve("bin")).toString(), true));
    }

    @Override
    protected VmSpec spec(TaskFixture task, String name, boolean guestIgnoresStop) throws Exception {
        Path kernel = Files.writeString(tmp.resolve("Image"), "kernel");
        Path initrd = Files.writeString(tmp.resolve("initrd"), "initrd");
        SlotDisk.ensure(task.slotDisk, 64L << 20);
        String extra = guestIgnoresStop ? "mvo.test.ignore_shutdown=1" : null;
        return new VmSpec(name, 2, 1024, new VmSpec.Boot(kernel, initrd, GuestRunnerFiles.kernelCmdline("hvc0", extra)),
                List.of(new VmSpec.Disk(task.slotDisk, false, GuestContract.DISK_SLOT)),
                List.of(new VmSpec.Share(task.workspace, GuestContract.TAG_WORKSPACE, false),
                        new VmSpec.Share(task.io, GuestContract.TAG_IO, false)),
                VmSpec.Network.nat(), task.root.resolve("console.log"), task.control, Map.of());
    }

    @Override
    protected boolean breakControlChannel(dev.microvm.orchestrator.vm.VmHandle h) throws Exception {
        java.nio.file.Files.delete(java.nio.file.Path.of(h.data().getString("rest_socket")));
        return true;
    }
}
