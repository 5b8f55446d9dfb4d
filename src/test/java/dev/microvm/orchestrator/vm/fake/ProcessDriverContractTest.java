package dev.microvm.orchestrator.vm.fake;

import dev.microvm.orchestrator.vm.DriverContract;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

class ProcessDriverContractTest extends DriverContract {
    @Override
    protected HypervisorDriver driver(boolean guestIgnoresStop) {
        return new ProcessDriver(new ProcessDriver.Faults(false, null, guestIgnoresStop));
    }

    @Override
    protected VmSpec spec(TaskFixture task, String name, boolean guestIgnoresStop) {
        return processSpec(task, name);
    }

    static VmSpec processSpec(TaskFixture task, String name) {
        return new VmSpec(name, 1, 512, new VmSpec.Boot(Path.of("/unused"), null, ""), List.of(),
                List.of(new VmSpec.Share(task.workspace, GuestContract.TAG_WORKSPACE, false),
                        new VmSpec.Share(task.io, GuestContract.TAG_IO, false)),
                VmSpec.Network.none(), task.root.resolve("console.log"), task.control, Map.of());
    }
}
