package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The lifecycle shared by drivers whose VM is one detached host process:
 * validate → prepare → launch → (persist handle) → wait-ready → wait → stop (graceful, then forced).
 * Subclasses supply the pure argv translation and the hypervisor's control channel.
 *
 * <p>Collaborators: {@link VmTags} (the tag every hypervisor process carries, so
 * {@link #findOrphans} finds one whose handle was never persisted), {@link VmControlDir} (handle
 * file, logs), {@link SpawnedHypervisors} (processes this JVM spawned, waiting for exec and exit),
 * {@link ControlPatience} (how long recovery waits on a re-found VM).
 */
public abstract class DetachedVmDriver implements HypervisorDriver {
    private static final Logger LOG = LoggerFactory.getLogger(DetachedVmDriver.class);
    public static final String HANDLE_FILE = VmControlDir.HANDLE_FILE;
    public static final String HYPERVISOR_LOG = VmControlDir.HYPERVISOR_LOG;
    private static final Duration POLL = Duration.ofMillis(100);

    protected final DetachedSpawner spawner;
    private final SpawnedHypervisors processes = new SpawnedHypervisors();
    private final ControlPatience patience = new ControlPatience();

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
        return VmTags.tag(vmName);
    }

    @Override
    public VmHandle start(VmSpec spec) throws VmException {
        List<String> argv = argv(spec);
        try {
            VmControlDir.create(spec.controlDir());
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
        processes.track(process);
        processes.awaitExec(process, ph -> isHypervisor(ph, spec.name()), name());
        String startTime = ProcessIdentity.startTime(pid).orElse(null);
        if (startTime == null) {
            String detail = processes.exitDetail(pid);
            throw new VmException("boot_failed", name() + " exited at once (" + detail + "): " + tail(outputFile(spec)));
        }
        JsonObject data = handleData(spec)
                .put("control_dir", spec.controlDir().toString())
                .put("console_log", spec.consoleLog().toString())
                .put("labels", new JsonObject(Map.copyOf(spec.labels())));
        VmHandle handle = new VmHandle(VmHandle.CURRENT_VERSION, name(), spec.name(), pid, startTime, data);
        VmControlDir.writeHandle(spec.controlDir(), handle);
        LOG.info("started {} VM {} (pid {})", name(), spec.name(), pid);
        return handle;
    }

    @Override
    public void awaitReady(VmHandle handle, Duration timeout) throws VmException, InterruptedException {
        Path console = Path.of(handle.data().getString("console_log"));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (VmControlDir.contains(console, GuestContract.READY_MARKER)) return;
            Optional<VmExit> exit = await(handle, Duration.ZERO);
            if (exit.isPresent()) {
                if (VmControlDir.contains(console, GuestContract.READY_MARKER)) return; // ran to completion quickly
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
        Optional<VmExit> exit = processes.awaitExit(handle, timeout);
        if (exit.isPresent()) cleanup(handle);
        return exit;
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

    private boolean isHypervisor(ProcessHandle ph, String vmName) {
        if (spawner.isHelper(ph)) return false;
        List<String> args = ProcessIdentity.arguments(ph);
        return vmName.equals(VmTags.vmNameIn(args).orElse(null)) && isOwnProcess(ph, args);
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
            Optional<ProcessHandle> settled = patience.settle(handle);
            if (settled.isEmpty()) {
                cleanup(handle);
                return new RecoverResult(VmStatus.STOPPED, handle, "the VM ended while no orchestrator was watching");
            }
            ph = settled;
            args = ProcessIdentity.arguments(ph.get());
        }
        if (!handle.vmName().equals(VmTags.vmNameIn(args).orElse(null)) || !isOwnProcess(ph.get(), args) || spawner.isHelper(ph.get())) {
            // Same pid and start time yet not our VM: never touch it.
            return new RecoverResult(VmStatus.LOST, handle, "pid " + handle.pid() + " is not VM " + handle.vmName());
        }
        if (patience.answers(handle, this::controllable)) {
            return new RecoverResult(VmStatus.RUNNING, handle, "re-attached");
        }
        destroy(handle);
        return new RecoverResult(VmStatus.LOST, handle, "the VM was running but its control channel did not answer; it was force-destroyed");
    }

    /** For tests of the destroy path: how long after its start a VM counts as young. */
    void youngVmAge(Duration age) {
        patience.youngVmAge(age);
    }

    @Override
    public List<VmHandle> findOrphans(String namePrefix) {
        return VmTags.firstTagged(namePrefix, (ph, args) -> isOwnProcess(ph, args) && !spawner.isHelper(ph))
                .entrySet().stream().flatMap(e -> {
                    ProcessHandle ph = e.getValue();
                    String start = ProcessIdentity.startTime(ph.pid()).orElse(null);
                    return handleFromArguments(ph.pid(), start, e.getKey(), ProcessIdentity.arguments(ph)).stream();
                }).toList();
    }

    @Override
    public void destroy(VmHandle handle) {
        Optional<ProcessHandle> ph = ProcessIdentity.find(handle.pid(), handle.processStartTime());
        if (ph.isPresent()) {
            hardStop(handle);
            ProcessIdentity.killTree(ph.get());
            try {
                ph.get().onExit().get(10, TimeUnit.SECONDS);
                processes.reap(handle.pid());
            } catch (Exception e) {
                LOG.warn("VM {} (pid {}) did not exit after SIGKILL", handle.vmName(), handle.pid());
            }
        }
        cleanup(handle);
    }

    protected static Path controlDir(VmHandle handle) {
        return VmControlDir.of(handle);
    }

    /** Last few lines of a log, for error messages. */
    protected static String tail(Path file) {
        return VmControlDir.tail(file);
    }
}
