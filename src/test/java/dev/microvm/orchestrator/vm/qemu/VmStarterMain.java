package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Stands in for an orchestrator process in crash tests: starts one VM, optionally persists its
 * handle, then waits to be killed. Args: taskRoot vmName kernel initrd persist|no-persist
 */
public final class VmStarterMain {
    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        VmSpec spec = TaskFixture.spec(root, args[1], Path.of(args[2]), Path.of(args[3]), VmSpec.Network.none(), false, null);
        QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
        VmHandle handle = driver.start(spec);
        if (args[4].equals("persist")) {
            Path tmp = root.resolve("persisted-handle.json.tmp");
            Files.writeString(tmp, handle.toJson().encode());
            Files.move(tmp, root.resolve("persisted-handle.json"), StandardCopyOption.ATOMIC_MOVE);
        }
        System.out.println("started " + handle.pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
