package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A task directory the way the orchestrator lays it out: a git workspace, the io share, a slot disk. */
public final class TaskFixture {
    public final Path root;
    public final Path workspace;
    public final Path io;
    public final Path control;
    public final Path slotDisk;
    public final String baseCommit;

    public TaskFixture(Path root) throws IOException, InterruptedException {
        this.root = root;
        this.workspace = root.resolve("workspace");
        this.io = root.resolve("io");
        this.control = root.resolve("ctl");
        this.slotDisk = root.resolve("slot.img");
        Files.createDirectories(workspace);
        Files.createDirectories(io);
        git("init", "-q", "-b", "main");
        Files.writeString(workspace.resolve("README.md"), "hello\n");
        git("add", "README.md");
        git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "base");
        this.baseCommit = git("rev-parse", "HEAD").strip();
    }

    public void writeTask(String agentCmd) throws IOException {
        Map<String, String> env = new HashMap<>();
        env.put(GuestContract.ENV_TASK_ID, "t1");
        env.put(GuestContract.ENV_BASE_COMMIT, baseCommit);
        env.put(GuestContract.ENV_AGENT_CMD, agentCmd);
        TaskIo.write(io, env, "a test task");
    }

    /**
     * The spec of this task booting {@code guest} through its manifest (its own disks first). Like the
     * orchestrator before a QEMU boot, it gives the workspace the guest agent's ownership.
     */
    public VmSpec spec(String name, TestGuest guest, VmSpec.Network net, boolean withDisk, String extraCmdline) {
        try {
            if (Files.isDirectory(workspace)) stampForAgent(guest);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        VmSpec plain = spec(root, name, guest.kernel, guest.initrd, net, withDisk, extraCmdline);
        List<VmSpec.Disk> disks = new ArrayList<>(guest.image.vmDisks());
        disks.addAll(plain.disks());
        return new VmSpec(name, plain.cpus(), plain.memoryMiB(), guest.image.boot(extraCmdline), disks, plain.shares(),
                net, plain.consoleLog(), plain.controlDir(), plain.labels());
    }

    /** Gives the workspace the guest agent's ownership, as the orchestrator does before a QEMU boot. */
    public void stampForAgent(TestGuest guest) throws IOException {
        MappedOwnership.stamp(workspace, guest.image.agentUser().uid(), guest.image.agentUser().gid());
    }

    /** The spec of a task laid out under {@code root} (see the constructor), without touching the disk. */
    public static VmSpec spec(Path root, String name, Path kernel, Path initrd, VmSpec.Network net, boolean withDisk, String extraCmdline) {
        Path workspace = root.resolve("workspace");
        Path io = root.resolve("io");
        List<VmSpec.Disk> disks = new ArrayList<>();
        if (withDisk) disks.add(new VmSpec.Disk(root.resolve("slot.img"), false, GuestContract.DISK_SLOT));
        Path control = root.resolve("ctl");
        return new VmSpec(name, 1, 512,
                new VmSpec.Boot(kernel, initrd, GuestRunnerFiles.kernelCmdline("ttyS0", extraCmdline)),
                disks,
                List.of(new VmSpec.Share(workspace, GuestContract.TAG_WORKSPACE, false),
                        new VmSpec.Share(io, GuestContract.TAG_IO, false)),
                net, root.resolve("console.log"), control, Map.of("task", "t1"));
    }

    public String read(String ioRelative) throws IOException {
        return Files.readString(io.resolve(ioRelative));
    }

    public String git(String... args) throws IOException, InterruptedException {
        return gitIn(workspace, args);
    }

    public static String gitIn(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("git", "-C", dir.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("git " + String.join(" ", args) + ": " + out);
        return out;
    }
}
