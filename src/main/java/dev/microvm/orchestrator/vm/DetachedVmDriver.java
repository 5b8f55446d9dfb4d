package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The lifecycle shared by drivers whose VM is one detached host process:
 * validate → prepare → launch → (persist handle) → wait-ready → wait → stop (graceful, then forced).
 * Subclasses supply the pure argv translation and the hypervisor's control channel.
 *
 * <p>Every hypervisor process carries the tag {@code mvo-vm-<name>} in its arguments, so one whose
 * handle was never persisted (crash between spawn and persist) is still found by
 * {@link #findOrphans}.
 */
public abstract class DetachedVmDriver implements HypervisorDriver {
    private static final Logger LOG = LoggerFactory.getLogger(DetachedVmDriver.class);
    public static final String TAG_PREFIX = "mvo-vm-";
    private static final Pattern TAG = Pattern.compile(Pattern.quote(TAG_PREFIX) + "(" + VmSpec.NAME.pattern() + ")");
    public static final String HANDLE_FILE = "handle.json";
    public static final String HYPERVISOR_LOG = "hypervisor.log";
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration CONTROL_PATIENCE = Duration.ofSeconds(5);
    private static final Duration EXEC_PATIENCE = Duration.ofSeconds(30);
    /** Until this age a VM's control channel is given time to come up (see {@link #patience}). */
    private static final Duration YOUNG_VM = Duration.ofSeconds(60);

    protected final DetachedSpawner spawner;
    private Duration youngVm = YOUNG_VM;
    /** Processes this JVM spawned: only for these is the exit code known. */
    private final Map<Long, Process> children = new ConcurrentHashMap<>();

    protected DetachedVmDriver(DetachedSpawner spawner) {
        this.spawner = spawner;
    }

    /** The hypervisor invocation for {@code spec}; a pure function of its arguments. */
    protected abstract List<String> argv(VmSpec spec) throws VmException;

    /** Environment added to the scrubbed base environment. */
    protected Map<String, String> environment(VmSpec spec) {
        return Map.of();
    }

    /** Driver-specific recovery data (control socket, ...). */
    protected abstract JsonObject handleData(VmSpec spec);

    /** Checks binaries and creates files the hypervisor needs; runs before launch. */
    protected void prepare(VmSpec spec) throws VmException {}

    /** Asks the guest to shut down. Returns false when the control channel is unusable. */
    protected abstract boolean requestShutdown(VmHandle handle);

    /** Hypervisor-level power-off, tried before killing the process. */
    protected boolean hardStop(VmHandle handle) {
        return false;
    }

    /** True when the control channel of a re-found VM answers. */
    protected abstract boolean controllable(VmHandle handle);

    /** Rebuilds the handle of a tagged process from its arguments. */
    protected abstract Optional<VmHandle> handleFromArguments(long pid, String startTime, String vmName, List<String> args);

    /** True when {@code args} belong to this driver's hypervisor (not just any tagged process). */
    protected abstract boolean isOwnProcess(ProcessHandle ph, List<String> args);

    /** Words that help a user read a boot timeout, e.g. "accelerator tcg". */
    protected String bootContext(VmHandle handle) {
        return name();
    }

    /** Where the hypervisor's own stdout and stderr go. */
    protected Path outputFile(VmSpec spec) {
        return spec.controlDir().resolve(HYPERVISOR_LOG);
    }

    /** Removes control sockets and the like once the VM is gone. */
    protected void cleanup(VmHandle handle) {}

    public static String tag(String vmName) {
        return TAG_PREFIX + vmName;
    }

    static Optional<String> vmNameIn(List<String> args) {
        for (String a : args) {
            Matcher m = TAG.matcher(a);
            if (m.find()) return Optional.of(m.group(1));
        }
        return Optional.empty();
    }

    @Override
    public VmHandle start(VmSpec spec) throws VmException {
        List<String> argv = argv(spec);
        try {
            createPrivateDir(spec.controlDir());
            Files.createDirectories(spec.consoleLog().getParent());
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot create control directory " + spec.controlDir() + ": " + e.getMessage(), e);
        }
        prepare(spec);
        Process process;
        try {
            process = spawner.spawn(argv, environment(spec), outputFile(spec));
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot start " + argv.get(0) + ": " + e.getMessage(), e);
        }
        long pid = process.pid();
        children.put(pid, process);
        awaitExec(process, spec.name());
        String startTime = ProcessIdentity.startTime(pid).orElse(null);
        if (startTime == null) {
            String detail = exitDetail(process);
            children.remove(pid);
            throw new VmException("boot_failed", name() + " exited at once (" + detail + "): " + tail(outputFile(spec)));
        }
        JsonObject data = handleData(spec)
                .put("control_dir", spec.controlDir().toString())
                .put("console_log", spec.consoleLog().toString())
                .put("labels", new JsonObject(Map.copyOf(spec.labels())));
        VmHandle handle = new VmHandle(VmHandle.CURRENT_VERSION, name(), spec.name(), pid, startTime, data);
        writeHandleFile(spec.controlDir(), handle);
        LOG.info("started {} VM {} (pid {})", name(), spec.name(), pid);
        return handle;
    }

    @Override
    public void awaitReady(VmHandle handle, Duration timeout) throws VmException, InterruptedException {
        Path console = Path.of(handle.data().getString("console_log"));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (contains(console, GuestContract.READY_MARKER)) return;
            Optional<VmExit> exit = await(handle, Duration.ZERO);
            if (exit.isPresent()) {
                if (contains(console, GuestContract.READY_MARKER)) return; // ran to completion quickly
                throw new VmException("boot_failed", "VM " + handle.vmName() + " stopped before the guest reached the task runner ("
                        + exit.get().detail() + "). Hypervisor output: " + tail(controlDir(handle).resolve(HYPERVISOR_LOG))
                        + " Console: " + tail(console));
            }
            if (System.nanoTime() > deadline) {
                destroy(handle);
                throw new VmException("boot_timeout", "VM " + handle.vmName() + " did not reach the task runner within "
                        + timeout.toSeconds() + " s (" + bootContext(handle) + "); it was destroyed. Console log: " + console
                        + " (last lines: " + tail(console) + ")");
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    @Override
    public Optional<VmExit> await(VmHandle handle, Duration timeout) throws InterruptedException {
        Process child = children.get(handle.pid());
        if (child != null) {
            if (!child.waitFor(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS)) return Optional.empty();
            children.remove(handle.pid());
            cleanup(handle);
            return Optional.of(new VmExit(child.exitValue(), false, "exited with code " + child.exitValue()));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (ProcessIdentity.find(handle.pid(), handle.processStartTime()).isPresent()) {
            if (System.nanoTime() >= deadline) return Optional.empty();
            Thread.sleep(POLL.toMillis());
        }
        cleanup(handle);
        return Optional.of(new VmExit(null, false, "exited (status unknown: started by another process)"));
    }

    @Override
    public VmExit stop(VmHandle handle, Duration grace) throws InterruptedException {
        Optional<VmExit> already = await(handle, Duration.ZERO);
        if (already.isPresent()) return already.get();
        boolean asked = requestShutdown(handle);
        if (asked) {
            Optional<VmExit> exit = await(handle, grace);
            if (exit.isPresent()) return new VmExit(exit.get().exitCode(), false, "stopped gracefully; " + exit.get().detail());
        }
        String why = asked ? "guest ignored the shutdown request for " + grace.toSeconds() + " s" : "control channel unusable";
        if (hardStop(handle)) {
            Optional<VmExit> exit = await(handle, Duration.ofSeconds(3));
            if (exit.isPresent()) return new VmExit(exit.get().exitCode(), true, "forced off (" + why + ")");
        }
        ProcessIdentity.find(handle.pid(), handle.processStartTime()).ifPresent(ProcessIdentity::killTree);
        Optional<VmExit> exit = await(handle, Duration.ofSeconds(10));
        Integer code = exit.map(VmExit::exitCode).orElse(null);
        return new VmExit(code, true, "killed (" + why + ")");
    }

    @Override
    public VmStatus inspect(VmHandle handle) {
        return ProcessIdentity.find(handle.pid(), handle.processStartTime()).isPresent() ? VmStatus.RUNNING : VmStatus.STOPPED;
    }

    /**
     * The spawned pid runs the JDK's launch helper, then the detaching wrapper (setsid), and the
     * hypervisor only after their execs. The wrapper's arguments already carry the VM's tag, so a
     * handle taken then would be refused by {@link #recover} and missed by {@link #findOrphans}
     * (both check the executable). Waits until the hypervisor itself runs, or the process ends.
     */
    private void awaitExec(Process process, String vmName) throws VmException {
        long deadline = System.nanoTime() + EXEC_PATIENCE.toNanos();
        while (process.isAlive()) {
            Optional<ProcessHandle> ph = ProcessHandle.of(process.pid());
            if (ph.isPresent() && isHypervisor(ph.get(), vmName)) return;
            if (System.nanoTime() > deadline) {
                destroyChild(process);
                throw new VmException("spawn_failed", name() + " did not start within " + EXEC_PATIENCE.toSeconds()
                        + " s (pid " + process.pid() + " still runs " + ph.flatMap(p -> p.info().command()).orElse("?") + ")");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                destroyChild(process);
                throw new VmException("spawn_failed", "interrupted while starting " + name());
            }
        }
    }

    private boolean isHypervisor(ProcessHandle ph, String vmName) {
        if (spawner.isHelper(ph)) return false;
        List<String> args = ProcessIdentity.arguments(ph);
        return vmName.equals(vmNameIn(args).orElse(null)) && isOwnProcess(ph, args);
    }

    private void destroyChild(Process process) {
        process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        children.remove(process.pid());
    }

    @Override
    public RecoverResult recover(VmHandle handle) {
        if (!name().equals(handle.driver())) {
            return new RecoverResult(VmStatus.LOST, handle, "handle belongs to driver " + handle.driver() + ", not " + name());
        }
        Optional<ProcessHandle> ph = ProcessIdentity.find(handle.pid(), handle.processStartTime());
        if (ph.isEmpty()) {
            cleanup(handle);
            return new RecoverResult(VmStatus.STOPPED, handle, "the VM ended while no orchestrator was watching");
        }
        List<String> args = ProcessIdentity.arguments(ph.get());
        if (args.isEmpty()) {
            // arguments unreadable: typically a VM exiting right now (on hosts where a not yet
            // reaped process is not recognised as such); give it a moment to go or show itself
            Optional<ProcessHandle> settled = settle(handle);
            if (settled.isEmpty()) {
                cleanup(handle);
                return new RecoverResult(VmStatus.STOPPED, handle, "the VM ended while no orchestrator was watching");
            }
            ph = settled;
            args = ProcessIdentity.arguments(ph.get());
        }
        if (!handle.vmName().equals(vmNameIn(args).orElse(null)) || !isOwnProcess(ph.get(), args) || spawner.isHelper(ph.get())) {
            // Same pid and start time yet not our VM: never touch it.
            return new RecoverResult(VmStatus.LOST, handle, "pid " + handle.pid() + " is not VM " + handle.vmName());
        }
        if (answersWithin(handle, patience(handle))) {
            return new RecoverResult(VmStatus.RUNNING, handle, "re-attached");
        }
        destroy(handle);
        return new RecoverResult(VmStatus.LOST, handle, "the VM was running but its control channel did not answer; it was force-destroyed");
    }

    /** Waits up to 5 s for a process with unreadable arguments to end or to show them. */
    private static Optional<ProcessHandle> settle(VmHandle handle) {
        long deadline = System.nanoTime() + CONTROL_PATIENCE.toNanos();
        while (true) {
            Optional<ProcessHandle> ph = ProcessIdentity.find(handle.pid(), handle.processStartTime());
            if (ph.isEmpty() || !ProcessIdentity.arguments(ph.get()).isEmpty() || System.nanoTime() > deadline) return ph;
            try {
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return ph;
            }
        }
    }

    /**
     * How long a re-found VM may take to answer on its control channel before it is destroyed: a
     * hypervisor started moments ago (the previous orchestrator died right after spawning it) may
     * not have opened its socket yet, least of all on a loaded host.
     */
    private Duration patience(VmHandle handle) {
        try {
            long age = System.currentTimeMillis() - Long.parseLong(handle.processStartTime());
            long young = youngVm.toMillis() - age;
            return young > CONTROL_PATIENCE.toMillis() ? Duration.ofMillis(young) : CONTROL_PATIENCE;
        } catch (NumberFormatException e) {
            return CONTROL_PATIENCE;
        }
    }

    /** For tests of the destroy path: how long after its start a VM counts as young. */
    void youngVmAge(Duration age) {
        this.youngVm = age;
    }

    /** A hypervisor started moments ago may not have opened its control socket yet. */
    private boolean answersWithin(VmHandle handle, Duration patience) {
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            if (controllable(handle)) return true;
            if (System.nanoTime() > deadline || ProcessIdentity.find(handle.pid(), handle.processStartTime()).isEmpty()) return false;
            try {
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    @Override
    public List<VmHandle> findOrphans(String namePrefix) {
        // a hypervisor's own forks (a shell runner's subshells, a child between fork and exec) carry
        // its arguments too; the VM is the first process that carried them
        Map<String, ProcessHandle> first = new java.util.HashMap<>();
        ProcessHandle.allProcesses().forEach(ph -> {
            List<String> args = ProcessIdentity.arguments(ph);
            Optional<String> vmName = vmNameIn(args).filter(n -> n.startsWith(namePrefix));
            if (vmName.isEmpty() || !isOwnProcess(ph, args) || spawner.isHelper(ph)) return;
            first.merge(vmName.get(), ph, (a, b) -> START_ORDER.compare(a, b) <= 0 ? a : b);
        });
        return first.entrySet().stream().flatMap(e -> {
            ProcessHandle ph = e.getValue();
            String start = ProcessIdentity.startTime(ph.pid()).orElse(null);
            return handleFromArguments(ph.pid(), start, e.getKey(), ProcessIdentity.arguments(ph)).stream();
        }).toList();
    }

    /** Start time, then pid: orders a process before its forks. */
    private static final java.util.Comparator<ProcessHandle> START_ORDER = java.util.Comparator
            .comparing((ProcessHandle ph) -> ph.info().startInstant().orElse(java.time.Instant.MAX))
            .thenComparingLong(ProcessHandle::pid);

    @Override
    public void destroy(VmHandle handle) {
        Optional<ProcessHandle> ph = ProcessIdentity.find(handle.pid(), handle.processStartTime());
        if (ph.isPresent()) {
            hardStop(handle);
            ProcessIdentity.killTree(ph.get());
            try {
                ph.get().onExit().get(10, TimeUnit.SECONDS);
                Process child = children.remove(handle.pid());
                if (child != null) child.waitFor(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("VM {} (pid {}) did not exit after SIGKILL", handle.vmName(), handle.pid());
            }
        }
        cleanup(handle);
    }

    protected static Path controlDir(VmHandle handle) {
        return Path.of(handle.data().getString("control_dir"));
    }

    static void createPrivateDir(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }

    private static void writeHandleFile(Path dir, VmHandle handle) throws VmException {
        try {
            Path tmp = dir.resolve(HANDLE_FILE + ".tmp");
            Files.writeString(tmp, handle.toJson().encodePrettily());
            try {
                Files.move(tmp, dir.resolve(HANDLE_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir.resolve(HANDLE_FILE), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot write VM handle into " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String exitDetail(Process p) {
        try {
            return p.waitFor(2, TimeUnit.SECONDS) ? "exit code " + p.exitValue() : "no start time";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private static boolean contains(Path file, String marker) {
        try {
            return Files.exists(file) && Files.readString(file, StandardCharsets.ISO_8859_1).contains(marker);
        } catch (IOException e) {
            return false;
        }
    }

    /** Last few lines of a log, for error messages. */
    protected static String tail(Path file) {
        try {
            if (!Files.exists(file)) return "(no " + file.getFileName() + ")";
            List<String> lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())).strip();
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}
