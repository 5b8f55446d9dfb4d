package dev.microvm.orchestrator.vm.fake;

import dev.microvm.orchestrator.vm.DetachedSpawner;
import dev.microvm.orchestrator.vm.DetachedVmDriver;
import dev.microvm.orchestrator.vm.DriverCapabilities;
import dev.microvm.orchestrator.vm.DriverProbe;
import dev.microvm.orchestrator.vm.NetworkSupport;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestRunnerFiles;
import dev.microvm.orchestrator.vm.ProcessIdentity;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A driver whose "VM" is a detached host process running the real in-guest task runner with the
 * shares' host paths (no isolation, no mounting, no power-off). For fast orchestrator tests and
 * for crash and recovery tests; {@link Faults} injects the failures a real hypervisor can have.
 * "Graceful stop" is SIGTERM (the runner's power-button path), forced stop is SIGKILL.
 */
public class ProcessDriver extends DetachedVmDriver {
    public static final String RUNNER_FILE = "mvo-runner.sh";

    /**
     * @param failStart  start() fails with spawn_failed
     * @param dieAfter   the "VM" is SIGKILLed this long after it starts (null: never)
     * @param ignoreStop the runner ignores SIGTERM, as a guest that ignores shutdown
     */
    public record Faults(boolean failStart, Duration dieAfter, boolean ignoreStop) {
        public static final Faults NONE = new Faults(false, null, false);
    }

    private final Faults faults;

    public ProcessDriver() {
        this(Faults.NONE);
    }

    public ProcessDriver(Faults faults) {
        this(faults, new DetachedSpawner());
    }

    public ProcessDriver(Faults faults, DetachedSpawner spawner) {
        super(spawner);
        this.faults = faults;
    }

    @Override
    public String name() {
        return "process";
    }

    @Override
    protected List<String> argv(VmSpec spec) throws VmException {
        if (faults.failStart()) throw new VmException("spawn_failed", "injected start failure");
        StringBuilder prelude = new StringBuilder();
        if (faults.ignoreStop()) prelude.append("trap '' TERM INT; ");
        if (faults.dieAfter() != null) {
            double secs = faults.dieAfter().toMillis() / 1000.0;
            prelude.append("(sleep ").append(secs).append("; kill -9 -$$ 2>/dev/null) & "); // the whole session, like a VM dying
        }
        // $0 = runner, $1 = the tag that findOrphans looks for; exec keeps the pid.
        prelude.append("exec sh \"$0\" \"$1\"");
        return List.of("/bin/sh", "-c", prelude.toString(), runnerPath(spec).toString(), tag(spec.name()));
    }

    @Override
    protected Map<String, String> environment(VmSpec spec) {
        return Map.of("MVO_IO_DIR", hostPathOf(spec, GuestContract.TAG_IO),
                "MVO_WORKSPACE", hostPathOf(spec, GuestContract.TAG_WORKSPACE),
                "GIT_CONFIG_NOSYSTEM", "1");
    }

    @Override
    protected void prepare(VmSpec spec) throws VmException {
        for (String tag : List.of(GuestContract.TAG_IO, GuestContract.TAG_WORKSPACE)) {
            if (spec.shares().stream().noneMatch(s -> s.tag().equals(tag))) {
                throw new VmException("boot_failed", "the process driver needs a share tagged " + tag);
            }
        }
        try {
            Files.writeString(runnerPath(spec), GuestRunnerFiles.runnerScript());
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot write the runner script: " + e.getMessage(), e);
        }
    }

    @Override
    protected Path outputFile(VmSpec spec) {
        return spec.consoleLog();
    }

    @Override
    protected JsonObject handleData(VmSpec spec) {
        return new JsonObject();
    }

    @Override
    protected boolean requestShutdown(VmHandle handle) {
        return ProcessIdentity.find(handle.pid(), handle.processStartTime()).map(ProcessHandle::destroy).orElse(false);
    }

    @Override
    protected boolean controllable(VmHandle handle) {
        return ProcessIdentity.find(handle.pid(), handle.processStartTime()).isPresent();
    }

    @Override
    protected boolean isOwnProcess(ProcessHandle ph, List<String> args) {
        return args.stream().anyMatch(a -> a.endsWith("/" + RUNNER_FILE));
    }

    @Override
    protected Optional<VmHandle> handleFromArguments(long pid, String startTime, String vmName, List<String> args) {
        Optional<Path> runner = args.stream().filter(a -> a.endsWith("/" + RUNNER_FILE)).map(Path::of).findFirst();
        if (runner.isEmpty()) return Optional.empty();
        Path controlDir = runner.get().getParent();
        String console = readRecordedConsole(controlDir).orElse(controlDir.resolve("console.log").toString());
        JsonObject data = new JsonObject().put("control_dir", controlDir.toString()).put("console_log", console);
        return Optional.of(new VmHandle(VmHandle.CURRENT_VERSION, name(), vmName, pid, startTime, data));
    }

    @Override
    public String guestPath(VmSpec.Share share) {
        return share.hostPath().toString();
    }

    /**
     * A test double: the "agent" is a host process, so neither network policies nor read-only
     * shares are enforced; it accepts them to exercise the same path as QEMU. It boots no image
     * and reaches the host on its loopback.
     */
    @Override
    public DriverCapabilities capabilities() {
        String none = "not enforced: the process driver is a test double that runs the agent on the host";
        return new DriverCapabilities(true, false,
                NetworkSupport.of(java.util.Map.of("full", none, "allowlist", none, "api-only", none, "none", none), java.util.Map.of()),
                new DriverCapabilities.GuestRoute("loopback", "127.0.0.1"), java.util.Set.of("x86_64", "aarch64"), false, false);
    }

    /** Nothing to look at: the "hypervisor" is the host's shell. Always healthy; a test overrides this to make it not. */
    @Override
    public DriverProbe probe() {
        return DriverProbe.ok("sh", null, "none", Map.of());
    }

    @Override
    public Optional<String> apiBaseUrlForGuest(VmSpec spec) {
        int port = spec.network().apiProxyPort();
        return spec.network().mode() == VmSpec.Network.Mode.NONE || port <= 0 ? Optional.empty() : Optional.of("http://127.0.0.1:" + port);
    }

    private static Path runnerPath(VmSpec spec) {
        return spec.controlDir().resolve(RUNNER_FILE);
    }

    private static String hostPathOf(VmSpec spec, String tag) {
        return spec.shares().stream().filter(s -> s.tag().equals(tag)).findFirst()
                .map(s -> s.hostPath().toString()).orElse("");
    }

    private static Optional<String> readRecordedConsole(Path controlDir) {
        try {
            Path f = controlDir.resolve(HANDLE_FILE);
            if (!Files.isRegularFile(f)) return Optional.empty();
            return Optional.ofNullable(VmHandle.fromJson(new JsonObject(Files.readString(f))).data().getString("console_log"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
