package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;
import dev.microvm.orchestrator.vm.SlotDisk;
import dev.microvm.orchestrator.vm.TaskFixture;
import dev.microvm.orchestrator.vm.TestGuest;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Real QEMU boots of the test guest under TCG. */
@Tag("vm")
class QemuDriverVmTest {
    static final Duration BOOT = Duration.ofSeconds(90);

    @TempDir Path tmp;

    final QemuDriver driver = new QemuDriver(QemuOptions.forHost(QemuOptions.Accelerator.TCG));
    final java.util.List<VmHandle> started = new java.util.ArrayList<>();

    @org.junit.jupiter.api.AfterEach
    void destroyLeftovers() {
        started.forEach(driver::destroy);
    }

    @Test
    void a_scripted_agent_edits_and_commits_in_a_real_vm_and_its_bundle_comes_back() throws Exception {
        TestGuest guest = TestGuest.get();
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        SlotDisk.ensure(task.slotDisk, 256L << 20);
        task.writeTask("echo changed >> README.md && echo new > new.txt && git add -A && git commit -qm 'agent work'"
                + " && mount | grep ' /var ' && echo agent-finished");
        VmSpec spec = task.spec("qemu-e2e", guest, VmSpec.Network.none(), true, null);

        long t0 = System.nanoTime();
        VmHandle handle = driver.start(spec);
        started.add(handle);
        assertThat(Files.readString(spec.controlDir().resolve("handle.json"))).contains("\"pid\" : " + handle.pid());
        driver.awaitReady(handle, BOOT);
        long t1 = System.nanoTime();
        Optional<VmExit> exit = driver.await(handle, BOOT);
        System.err.printf("boot %d ms, run %d ms%n", (t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);

        assertThat(exit).isPresent();
        assertThat(exit.get().exitCode()).isZero();
        assertThat(task.read(GuestContract.OUT_DONE)).isEmpty();
        assertThat(task.read(GuestContract.OUT_EXIT_CODE).strip()).as(task.read(GuestContract.OUT_RUNNER_LOG) + Files.readString(spec.consoleLog()))
                .isEqualTo("0");
        assertThat(task.read(GuestContract.OUT_AGENT_LOG)).contains("agent-finished");
        assertThat(task.read(GuestContract.OUT_RUNNER_LOG)).contains("bundled 1 commit(s)");

        // The bundle alone carries the work: fetch it into a fresh clone of the base.
        Path clone = tmp.resolve("clone");
        TaskFixture.gitIn(tmp, "clone", "-q", task.workspace.toString(), clone.toString());
        TaskFixture.gitIn(clone, "reset", "-q", "--hard", task.baseCommit);
        TaskFixture.gitIn(clone, "fetch", "-q", task.io.resolve(GuestContract.OUT_BUNDLE).toString(), "HEAD:refs/tasks/t1");
        assertThat(TaskFixture.gitIn(clone, "log", "-1", "--format=%s", "refs/tasks/t1").strip()).isEqualTo("agent work");
        assertThat(TaskFixture.gitIn(clone, "show", "refs/tasks/t1:new.txt").strip()).isEqualTo("new");

        // The slot disk was formatted in the guest (by init, before anything used /var: its line is on
        // the console, the io share is not mounted yet), backs /var, and the image stayed sparse.
        assertThat(Files.readString(spec.consoleLog())).contains("formatting slot disk");
        assertThat(task.read(GuestContract.OUT_AGENT_LOG)).contains("/dev/vda on /var type ext4");
        assertThat(Files.size(task.slotDisk)).isEqualTo(256L << 20);
        Process du = new ProcessBuilder("du", "-k", task.slotDisk.toString()).start();
        long allocatedKiB = Long.parseLong(new String(du.getInputStream().readAllBytes()).split("\\s+")[0]);
        assertThat(allocatedKiB).isLessThan(64 << 10);
        assertThat(dev.microvm.orchestrator.vm.ProcessIdentity.running(handle.pid())).isFalse();
        assertThat(spec.controlDir().resolve(QemuArgv.QMP_SOCKET)).doesNotExist();
    }

    @Test
    void the_users_object_store_is_shared_read_only_and_reached_through_alternates() throws Exception {
        TestGuest guest = TestGuest.get();
        TaskFixture user = new TaskFixture(tmp.resolve("user"));   // stands in for the user's repository
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        // The task workspace borrows the user's objects: clone --shared, then point alternates at the guest path.
        deleteTree(task.workspace);
        TaskFixture.gitIn(tmp, "clone", "-q", "--shared", user.workspace.toString(), task.workspace.toString());
        VmSpec.Share objects = new VmSpec.Share(user.workspace.resolve(".git/objects"), GuestContract.TAG_OBJECTS, true);
        Files.writeString(task.workspace.resolve(".git/objects/info/alternates"), driver.guestPath(objects) + "\n");
        TaskFixture.gitIn(task.workspace, "config", "user.name", "t");
        dev.microvm.orchestrator.vm.TaskIo.write(task.io, java.util.Map.of(
                GuestContract.ENV_TASK_ID, "t1",
                GuestContract.ENV_BASE_COMMIT, user.baseCommit,
                GuestContract.ENV_AGENT_CMD, "git log --format=%s | tr '\\n' ' '; echo; echo two > two.txt && git add two.txt && git commit -qm guest-commit;"
                        + " if touch /run/mvo/objects/evil 2>/dev/null; then echo objects-writable; else echo objects-read-only; fi"), "p");
        VmSpec base = task.spec("qemu-objects", guest, VmSpec.Network.none(), false, null);
        VmSpec spec = new VmSpec(base.name(), base.cpus(), base.memoryMiB(), base.boot(), base.disks(),
                java.util.List.of(base.shares().get(0), base.shares().get(1), objects), base.network(), base.consoleLog(), base.controlDir(), base.labels());

        VmHandle handle = driver.start(spec);
        started.add(handle);
        driver.awaitReady(handle, BOOT);
        assertThat(driver.await(handle, BOOT)).isPresent();

        String agent = task.read(GuestContract.OUT_AGENT_LOG);
        assertThat(agent).contains("base").contains("objects-read-only").doesNotContain("objects-writable");
        assertThat(task.read(GuestContract.OUT_RUNNER_LOG)).contains("bundled 1 commit(s)");
        assertThat(user.workspace.resolve(".git/objects/evil")).doesNotExist();
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void a_missing_kernel_is_a_clear_boot_failure() throws Exception {
        TaskFixture task = new TaskFixture(tmp.resolve("t"));
        VmSpec spec = new VmSpec("qemu-nokernel", 1, 256,
                new VmSpec.Boot(tmp.resolve("no-such-kernel"), null, "console=ttyS0"),
                null, null, VmSpec.Network.none(), tmp.resolve("console.log"), task.control, null);
        assertThatThrownBy(() -> driver.start(spec)).isInstanceOf(VmException.class)
                .hasMessageContaining("kernel not found").hasMessageContaining("no-such-kernel")
                .extracting(e -> ((VmException) e).reason()).isEqualTo("boot_failed");
    }
}
