package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.util.ProcessRunner;
import dev.microvm.orchestrator.vm.DetachedSpawner;
import dev.microvm.orchestrator.vm.DetachedVmDriver;
import dev.microvm.orchestrator.vm.DriverCapabilities;
import dev.microvm.orchestrator.vm.DriverProbe;
import dev.microvm.orchestrator.vm.GuestApiListener;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.NetworkSupport;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * macOS hosts: one vfkit process (Apple Virtualization.framework) per task. Control goes through
 * vfkit's REST API on a unix socket in the 0700 control directory: "Stop" asks the guest to shut
 * down, "HardStop" powers it off; SIGKILL is the last resort.
 */
public final class VfkitDriver extends DetachedVmDriver {
    private static final Pattern VERSION = Pattern.compile("vfkit version:\\s*v?(\\d+)\\.(\\d+)\\.(\\d+)");
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(VfkitDriver.class);

    static final Duration VERSION_TIMEOUT = Duration.ofSeconds(10);

    private final VfkitOptions options;
    private final Duration versionTimeout;
    private final VmnetGateway gateway;
    private volatile String checkedVersion;
    /** The vmnet gateway as last found (probe, prepare); capabilities report it without looking again. */
    private volatile String lastGateway = "";

    public VfkitDriver(VfkitOptions options) {
        this(options, new DetachedSpawner());
    }

    public VfkitDriver(VfkitOptions options, DetachedSpawner spawner) {
        this(options, spawner, VERSION_TIMEOUT);
    }

    VfkitDriver(VfkitOptions options, DetachedSpawner spawner, Duration versionTimeout) {
        this(options, spawner, versionTimeout, VmnetGateway.system());
    }

    VfkitDriver(VfkitOptions options, DetachedSpawner spawner, Duration versionTimeout, VmnetGateway gateway) {
        super(spawner);
        this.options = options;
        this.versionTimeout = versionTimeout;
        this.gateway = gateway;
    }

    @Override
    public String name() {
        return "vfkit";
    }

    /**
     * Apple Silicon Macs run aarch64 guests (x86_64 binaries through Rosetta inside them). virtio-fs
     * shares are always writable. {@code full} is vmnet NAT, which cannot be restricted: the internet,
     * and every host service bound to the vmnet bridge or to all interfaces (README); the credential
     * proxy listens on the bridge's address (the guest's gateway). {@code api-only} gives the guest
     * no NIC, only a virtio-vsock channel that vfkit joins to a host unix socket where the proxy
     * listens. allowlist needs a NAT restricted to the egress proxy, which vmnet cannot do.
     */
    @Override
    public DriverCapabilities capabilities() {
        NetworkSupport networks = NetworkSupport.of(java.util.Map.of(
                        "none", "no network device",
                        "full", "vmnet NAT: the internet, and host services bound to the vmnet bridge or to all interfaces",
                        "api-only", "no network device; the credential proxy only, over virtio-vsock (a host unix socket per task)"),
                java.util.Map.of("allowlist", "vfkit's NAT cannot be restricted to the egress proxy"));
        return new DriverCapabilities(false, false, networks, new DriverCapabilities.GuestRoute("gateway", lastGateway),
                java.util.Set.of("aarch64"), false, true);
    }

    /**
     * vfkit answers {@code --version} with a version this driver supports; guests run on
     * Virtualization.framework (hvf). Details: the binary as found on PATH, and the vmnet gateway.
     */
    @Override
    public DriverProbe probe() {
        java.util.Map<String, String> details = new java.util.TreeMap<>();
        details.put("binary", resolvedBinary().map(Path::toString).orElse(options.binary()));
        findGateway().ifPresent(g -> details.put("vmnet_gateway", g));
        try {
            String version = checkVersion();
            details.put("vfkit_version", version);
            return DriverProbe.ok("vfkit", version, "hvf", details);
        } catch (VmException e) {
            return DriverProbe.failed("vfkit", null, "hvf", e.getMessage(), details);
        }
    }

    /** The executable {@code vfkit_binary} names: itself when it is a path, else the first match on PATH. */
    private Optional<Path> resolvedBinary() {
        String b = options.binary();
        if (b.contains("/")) return Optional.of(Path.of(b).toAbsolutePath());
        String path = System.getenv("PATH");
        if (path == null) return Optional.empty();
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, b);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    private Optional<String> findGateway() {
        Optional<String> g = gateway.find();
        g.ifPresent(v -> lastGateway = v);
        return g;
    }

    @Override
    protected List<String> argv(VmSpec spec) throws VmException {
        try {
            return VfkitArgv.build(spec, options);
        } catch (IllegalArgumentException e) {
            throw new VmException("invalid_spec", e.getMessage(), e);
        }
    }

    @Override
    protected JsonObject handleData(VmSpec spec) {
        return new JsonObject().put("rest_socket", VfkitArgv.restSocket(spec).toString())
                .put("pid_file", VfkitArgv.pidFile(spec).toString());
    }

    @Override
    protected void prepare(VmSpec spec) throws VmException {
        checkVersion();
        for (Path p : List.of(spec.boot().kernel(), spec.boot().initrd())) {
            if (!Files.isRegularFile(p)) throw new VmException("boot_failed", "boot file not found: " + p);
        }
        for (VmSpec.Disk d : spec.disks()) {
            if (!Files.isRegularFile(d.path())) throw new VmException("boot_failed", "disk " + d.id() + " not found: " + d.path());
        }
        for (VmSpec.Share s : spec.shares()) {
            if (!Files.isDirectory(s.hostPath())) throw new VmException("boot_failed", "shared directory " + s.hostPath() + " does not exist");
        }
        try {
            Files.deleteIfExists(VfkitArgv.restSocket(spec));
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot remove stale REST socket: " + e.getMessage(), e);
        }
    }

    /** Runs {@code vfkit --version} once and refuses versions older than {@link VfkitOptions#MIN_VERSION}. */
    public String checkVersion() throws VmException {
        if (checkedVersion != null) return checkedVersion;
        String out;
        ProcessRunner.Result probe;
        try {
            probe = ProcessRunner.of(options.binary(), "--version").timeout(versionTimeout).run();
        } catch (ProcessRunner.TimeoutException e) {
            throw new VmException("spawn_failed", e.getMessage(), e);
        } catch (IOException e) {
            throw new VmException("spawn_failed", "vfkit not found (" + options.binary() + "); install it with 'brew install vfkit'", e);
        }
        out = probe.output().strip();
        if (probe.exitCode() != 0) {
            throw new VmException("spawn_failed", "'" + options.binary() + " --version' failed: " + out);
        }
        Matcher m = VERSION.matcher(out);
        if (!m.find()) throw new VmException("spawn_failed", "cannot read the vfkit version from: " + out);
        int[] v = {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))};
        int[] min = VfkitOptions.MIN_VERSION;
        for (int i = 0; i < 3; i++) {
            if (v[i] != min[i]) {
                if (v[i] < min[i]) {
                    throw new VmException("spawn_failed", "vfkit " + m.group().substring(m.group().indexOf(':') + 1).strip()
                            + " is too old; need " + min[0] + "." + min[1] + "." + min[2] + " or newer ('brew upgrade vfkit')");
                }
                break;
            }
        }
        checkedVersion = v[0] + "." + v[1] + "." + v[2];
        return checkedVersion;
    }

    @Override
    protected boolean requestShutdown(VmHandle handle) {
        return changeState(handle, "Stop");
    }

    @Override
    protected boolean hardStop(VmHandle handle) {
        return changeState(handle, "HardStop");
    }

    /** Asks the VM's REST endpoint for a state change; false when it cannot be reached or refuses. */
    private boolean changeState(VmHandle handle, String state) {
        return rest(handle).map(c -> {
            try {
                c.changeState(state);
                return true;
            } catch (IOException e) {
                return false;
            }
        }).orElse(false);
    }

    @Override
    protected boolean controllable(VmHandle handle) {
        return rest(handle).map(c -> {
            try {
                return !c.state().isEmpty();
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }).orElse(false);
    }

    @Override
    protected boolean isOwnProcess(ProcessHandle ph, List<String> args) {
        return args.contains("--restful-uri") && args.contains("--pidfile");
    }

    @Override
    protected Optional<VmHandle> handleFromArguments(long pid, String startTime, String vmName, List<String> args) {
        String rest = null;
        String console = null;
        String pidFile = null;
        for (int i = 0; i + 1 < args.size(); i++) {
            String v = args.get(i + 1);
            if (args.get(i).equals("--restful-uri") && v.startsWith("unix://")) rest = v.substring("unix://".length());
            if (args.get(i).equals("--pidfile")) pidFile = v;
            if (args.get(i).equals("--device") && v.startsWith("virtio-serial,")) {
                for (String opt : v.split(",")) if (opt.startsWith("logFilePath=")) console = opt.substring("logFilePath=".length());
            }
        }
        if (rest == null || console == null) return Optional.empty();
        JsonObject data = new JsonObject().put("rest_socket", rest).put("pid_file", pidFile)
                .put("control_dir", Path.of(rest).getParent().toString()).put("console_log", console);
        return Optional.of(new VmHandle(VmHandle.CURRENT_VERSION, name(), vmName, pid, startTime, data));
    }

    @Override
    protected void cleanup(VmHandle handle) {
        for (String key : List.of("rest_socket", "pid_file")) {
            String p = handle.data().getString(key);
            if (p == null) continue;
            try {
                Files.deleteIfExists(Path.of(p));
            } catch (IOException ignored) {
                // replaced on the next start
            }
        }
    }

    /**
     * {@code full}: the vmnet gateway and the proxy's port (vfkit's NAT has no port forwarding, so
     * the proxy listens there too: {@link #apiListener}). {@code api-only}: the guest's own relay on
     * its loopback, which carries each connection over vsock to the host.
     */
    @Override
    public Optional<String> apiBaseUrlForGuest(VmSpec spec) {
        int port = spec.network().apiProxyPort();
        return switch (spec.network().mode()) {
            case NAT -> port <= 0 ? Optional.empty() : gatewayFor(spec).map(g -> "http://" + g + ":" + port);
            case API_ONLY -> Optional.of("http://127.0.0.1:" + GuestContract.API_RELAY_PORT);
            default -> Optional.empty();
        };
    }

    @Override
    public Optional<GuestApiListener> apiListener(VmSpec spec) {
        return switch (spec.network().mode()) {
            case NAT -> spec.network().apiProxyPort() <= 0 ? Optional.empty() : gatewayFor(spec).map(GuestApiListener::onAddress);
            case API_ONLY -> Optional.of(GuestApiListener.onUnixSocket(VfkitArgv.apiSocket(spec)));
            default -> Optional.empty();
        };
    }

    /** api-only: the runner starts its vsock relay (GuestContract). */
    @Override
    public java.util.Map<String, String> guestEnvironment(VmSpec spec) {
        if (spec.network().mode() != VmSpec.Network.Mode.API_ONLY) return java.util.Map.of();
        return java.util.Map.of(GuestContract.ENV_API_VSOCK_PORT, Integer.toString(GuestContract.API_VSOCK_PORT),
                GuestContract.ENV_API_RELAY_PORT, Integer.toString(GuestContract.API_RELAY_PORT));
    }

    private Optional<String> gatewayFor(VmSpec spec) {
        Optional<String> g = findGateway();
        if (g.isEmpty()) {
            LOG.warn("{}: no vmnet gateway found (no vmnet bridge up and no Shared_Net_Address in {}.plist): the guest gets no route "
                    + "to the credential proxy; start any vfkit VM with a NAT device once, or set the shared network's address", spec.name(),
                    VmnetGateway.VMNET_SETTINGS);
        }
        return g;
    }

    private static Optional<VfkitRestClient> rest(VmHandle handle) {
        return Optional.ofNullable(handle.data().getString("rest_socket")).map(Path::of).map(VfkitRestClient::new);
    }
}
