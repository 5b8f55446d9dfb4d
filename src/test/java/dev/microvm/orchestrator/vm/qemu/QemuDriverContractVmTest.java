package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.DriverContract;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Tag;

/** The driver contract against real QEMU boots of the test guest (TCG). */
@Tag("vm")
class QemuDriverContractVmTest extends DriverContract {
    @Override
    protected HypervisorDriver driver(boolean guestIgnoresStop) {
        return new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
    }

    @Override
    protected VmSpec spec(TaskFixture task, String name, boolean guestIgnoresStop) {
        return task.spec(name, TestGuest.get(), VmSpec.Network.none(), false, guestIgnoresStop ? "mvo.test.ignore_shutdown=1" : null);
    }

    @Override
    protected boolean breakControlChannel(dev.microvm.orchestrator.vm.VmHandle h) throws Exception {
        java.nio.file.Files.delete(java.nio.file.Path.of(h.data().getString("qmp_socket")));
        return true;
    }
}
