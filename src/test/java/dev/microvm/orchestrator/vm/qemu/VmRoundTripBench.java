package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.MappedOwnership;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The driver half of scripts/bench/vm-roundtrip.sh: start → ready → exit through the QEMU driver.
 * Args: workDir guestDir accelerator runs
 */
public final class VmRoundTripBench {
    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        Path guest = Path.of(args[1]);
        QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.parse(args[2])));
        int runs = Integer.parseInt(args[3]);
        for (int i = 1; i <= runs; i++) {
            TaskFixture task = new TaskFixture(work.resolve("run" + i));
            task.writeTask("echo x > x.txt && git add x.txt && git commit -qm bench");
            GuestImage image = GuestImage.load(guest);
            MappedOwnership.stamp(task.workspace, image.agentUser().uid(), image.agentUser().gid());
            VmSpec plain = TaskFixture.spec(task.root, "bench-" + i, image.kernel(), image.initrd(), VmSpec.Network.none(), false, null);
            VmSpec spec = new VmSpec(plain.name(), plain.cpus(), plain.memoryMiB(), image.boot(null), image.vmDisks(), plain.shares(),
                    plain.network(), plain.consoleLog(), plain.controlDir(), plain.labels());
            long t0 = System.nanoTime();
            VmHandle h = driver.start(spec);
            driver.awaitReady(h, Duration.ofSeconds(120));
            long ready = System.nanoTime();
            driver.await(h, Duration.ofSeconds(120)).orElseThrow();
            long done = System.nanoTime();
            if (!Files.exists(task.io.resolve(GuestContract.OUT_BUNDLE))) throw new IllegalStateException("no bundle in run " + i);
            System.out.printf("driver run %d: %d ms (ready after %d ms)%n", i, (done - t0) / 1_000_000, (ready - t0) / 1_000_000);
        }
    }
}
