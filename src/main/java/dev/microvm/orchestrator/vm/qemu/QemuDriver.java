package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.DetachedSpawner;
import dev.microvm.orchestrator.vm.DetachedVmDriver;
import dev.microvm.orchestrator.vm.DriverCapabilities;
import dev.microvm.orchestrator.vm.DriverProbe;
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

/**
 * Linux hosts: a QEMU microVM per task. Graceful stop is an ACPI power-button press through QMP
 * (the guest finishes its runner and powers off); forced stop is QMP "quit", then SIGKILL.
 */
public final class QemuDriver extends DetachedVmDriver {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(QemuDriver.class);
    /** A guest failed to boot under KVM that {@code auto} chose; starting again runs TCG. */
    public static final String KVM_FAILED = "kvm_failed";
    private volatile QemuOptions options;
    /** The auto-resolved KVM options while KVM is not yet ruled out on this host; null otherwise. */
    private volatile QemuOptions autoKvm;
    private volatile boolean kvmOnTrial;

    public QemuDriver(QemuOptions options) {
        this(options, new DetachedSpawner());
    }

    public QemuDriver(QemuOptions options, DetachedSpawner spawner) {
        super(spawner);
        if (options.accelerator() == QemuOptions.Accelerator.AUTO) {
            throw new IllegalArgumentException("resolve the accelerator first (QemuOptions.forHost)");
        }
        this.options = options;
        this.autoKvm = options.kvmVerdict() != null ? options : null;
    }

    public QemuOptions options() {
        return options;
    }

    @Override
    public String name() {
        return "qemu";
    }

    /**
     * api-only and allowlist: QEMU's user network with {@code restrict=on}, the guest reaching only
     * the forwarded host channels. full: QEMU in {@link EgressNamespace}, only when this host can
     * build it (root, the tools installed). Shares go over 9p with mapped ownership; this driver
     * runs qemu-system-x86_64 (microvm).
     */
    @Override
    public DriverCapabilities capabilities() {
        java.util.Map<String, String> enforced = new java.util.HashMap<>(java.util.Map.of(
                "none", "no network device",
                "api-only", "user-mode network with restrict=on; only the credential proxy is forwarded",
                "allowlist", "user-mode network with restrict=on; the credential proxy and the egress proxy are forwarded"));
        java.util.Map<String, String> refused = new java.util.HashMap<>();
        Optional<String> why = EgressNamespace.unavailableReason();
        if (why.isPresent()) refused.put("full", why.get());
        else enforced.put("full", "user-mode network in the " + EgressNamespace.NAME + " namespace, which reaches no host address");
        return new DriverCapabilities(true, true, NetworkSupport.of(enforced, refused),
                new DriverCapabilities.GuestRoute("guestfwd", QemuArgv.API_PROXY_GUEST_ADDR), java.util.Set.of("x86_64"), false, true);
    }

    /**
     * QEMU's version and whether its accelerator opens. Under {@code auto}, a KVM that does not
     * even open gives way to TCG for this process (nothing is recorded: the check is cheap).
     */
    @Override
    public DriverProbe probe() {
        QemuOptions current = options;
        DriverProbe probe = QemuProbe.probe(current);
        if (probe.problem() == null || autoKvm == null || current.accelerator() != QemuOptions.Accelerator.KVM) return probe;
        QemuOptions tcg = QemuOptions.forHost(QemuOptions.Accelerator.TCG);
        DriverProbe underTcg = QemuProbe.probe(tcg);
        if (underTcg.problem() != null) return probe;
        LOG.warn("accelerator auto: KVM does not open here, guests run with TCG ({})", probe.problem());
        autoKvm = null;
        options = tcg;
        java.util.Map<String, String> details = new java.util.TreeMap<>(underTcg.details());
        details.put("kvm", probe.problem());
        return DriverProbe.ok(underTcg.hypervisor(), underTcg.version(), underTcg.accelerator(), details);
    }

    /** A guest that did not boot under the KVM that {@code auto} chose is booted again, under TCG ({@link #awaitReady}). */
    @Override
    public VmHandle boot(VmSpec spec, java.time.Duration readyTimeout, StartedHook started)
            throws VmException, IOException, InterruptedException {
        try {
            return super.boot(spec, readyTimeout, started);
        } catch (VmException e) {
            if (!KVM_FAILED.equals(e.reason())) throw e;
            LOG.warn("VM {}: {}", spec.name(), e.getMessage());
            return super.boot(spec, readyTimeout, started);
        }
    }

    @Override
    protected List<String> argv(VmSpec spec) {
        return QemuArgv.build(spec, options);
    }

    @Override
    protected JsonObject handleData(VmSpec spec) {
        return new JsonObject()
                .put("qmp_socket", QemuArgv.qmpSocket(spec).toString())
                .put("accelerator", options.accelerator().name().toLowerCase());
    }

    @Override
    protected void prepare(VmSpec spec) throws VmException {
        if (findOnPath(options.binary()).isEmpty()) {
            throw new VmException("spawn_failed", options.binary() + " not found on PATH (Debian/Ubuntu: apt-get install qemu-system-x86)");
        }
        requireFile(spec.boot().kernel(), "kernel");
        if (spec.boot().initrd() != null) requireFile(spec.boot().initrd(), "initrd");
        for (VmSpec.Share s : spec.shares()) {
            if (!Files.isDirectory(s.hostPath())) throw new VmException("boot_failed", "shared directory " + s.hostPath() + " (" + s.tag() + ") does not exist");
        }
        for (VmSpec.Disk d : spec.disks()) requireFile(d.path(), "disk " + d.id());
        if (spec.network().mode() == VmSpec.Network.Mode.NAT) {
            try {
                EgressNamespace.ensure();
            } catch (IOException e) {
                throw new VmException("network_unavailable", "cannot prepare network full (" + EgressNamespace.NAME + "): " + e.getMessage(), e);
            }
        }
        Path qmp = QemuArgv.qmpSocket(spec);
        if (qmp.toString().getBytes().length > 107) {
            throw new VmException("spawn_failed", "control socket path longer than 107 bytes: " + qmp + " (use a shorter state directory)");
        }
        try {
            Files.deleteIfExists(qmp);
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot remove stale QMP socket " + qmp + ": " + e.getMessage(), e);
        }
    }

    @Override
    protected boolean requestShutdown(VmHandle handle) {
        return qmp(handle, "system_powerdown");
    }

    @Override
    protected boolean hardStop(VmHandle handle) {
        return qmp(handle, "quit");
    }

    @Override
    protected boolean controllable(VmHandle handle) {
        return qmp(handle, "query-status");
    }

    @Override
    protected boolean isOwnProcess(ProcessHandle ph, List<String> args) {
        return ph.info().command().map(c -> c.contains("qemu-system")).orElse(false);
    }

    @Override
    protected Optional<VmHandle> handleFromArguments(long pid, String startTime, String vmName, List<String> args) {
        String qmp = null;
        String console = null;
        String accel = null;
        for (int i = 0; i + 1 < args.size(); i++) {
            String v = args.get(i + 1);
            switch (args.get(i)) {
                case "-qmp" -> qmp = v.substring("unix:".length(), v.indexOf(','));
                case "-serial" -> console = v.startsWith("file:") ? v.substring(5) : null;
                case "-accel" -> accel = v;
                default -> { }
            }
        }
        if (qmp == null || console == null) return Optional.empty();
        JsonObject data = new JsonObject().put("qmp_socket", qmp).put("accelerator", accel)
                .put("control_dir", Path.of(qmp).getParent().toString()).put("console_log", console);
        return Optional.of(new VmHandle(VmHandle.CURRENT_VERSION, name(), vmName, pid, startTime, data));
    }

    /**
     * {@code auto} chose KVM and a guest did not reach the task runner under it (QEMU hung or
     * crashed: /dev/kvm opening proves little, nested KVM does both). The driver switches to TCG and
     * {@link #boot} starts the VM again ({@link #KVM_FAILED}). If that TCG boot succeeds, KVM is
     * recorded as unusable on this host; if it fails too, the image was at fault and KVM stays.
     */
    @Override
    public void awaitReady(VmHandle handle, java.time.Duration timeout) throws VmException, InterruptedException {
        String accel = handle.data().getString("accelerator");
        QemuOptions auto = autoKvm;
        try {
            super.awaitReady(handle, timeout);
        } catch (VmException e) {
            boolean bootProblem = "boot_timeout".equals(e.reason()) || "boot_failed".equals(e.reason());
            if (bootProblem && auto != null && "kvm".equals(accel)) {
                kvmOnTrial = true;
                options = QemuOptions.forHost(QemuOptions.Accelerator.TCG);
                LOG.warn("a guest did not boot under KVM (accelerator auto); trying TCG: {}", e.getMessage());
                throw new VmException(KVM_FAILED, e.getMessage() + " Under accelerator auto the VM is started again with TCG.", e);
            }
            if (kvmOnTrial && auto != null && "tcg".equals(accel)) {
                kvmOnTrial = false;
                options = auto; // TCG failed as well: the guest image is at fault, not KVM
            }
            throw e;
        }
        if (kvmOnTrial && auto != null && "tcg".equals(accel)) {
            kvmOnTrial = false;
            autoKvm = null;
            recordKvmVerdict(auto.kvmVerdict());
        }
    }

    private static void recordKvmVerdict(Path verdict) {
        try {
            Files.createDirectories(verdict.getParent());
            Files.writeString(verdict, java.time.Instant.now() + " a guest failed to boot under KVM and then booted under TCG;"
                    + " accelerator auto uses TCG on this host while this file exists\n");
            LOG.warn("KVM does not boot guests on this host; accelerator auto uses TCG from now on (delete {} to try KVM again)", verdict);
        } catch (IOException io) {
            LOG.warn("cannot record that KVM does not boot guests here ({}): {}", verdict, io.getMessage());
        }
    }

    @Override
    protected String bootContext(VmHandle handle) {
        return "accelerator " + handle.data().getString("accelerator", "unknown")
                + "; if this host's KVM does not boot guests, set the QEMU accelerator to tcg";
    }

    @Override
    protected void cleanup(VmHandle handle) {
        String qmp = handle.data().getString("qmp_socket");
        if (qmp != null) {
            try {
                Files.deleteIfExists(Path.of(qmp));
            } catch (IOException ignored) {
                // a stale socket is replaced on the next start
            }
        }
    }

    @Override
    public Optional<String> apiBaseUrlForGuest(VmSpec spec) {
        if (spec.network().mode() == VmSpec.Network.Mode.NONE || spec.network().apiProxyPort() <= 0) return Optional.empty();
        return Optional.of("http://" + QemuArgv.API_PROXY_GUEST_ADDR + ":" + QemuArgv.API_PROXY_GUEST_PORT);
    }

    @Override
    public Optional<String> egressProxyUrlForGuest(VmSpec spec) {
        if (spec.network().mode() != VmSpec.Network.Mode.ALLOWLIST) return Optional.empty();
        return Optional.of("http://" + QemuArgv.EGRESS_PROXY_GUEST_ADDR + ":" + QemuArgv.EGRESS_PROXY_GUEST_PORT);
    }

    private static boolean qmp(VmHandle handle, String command) {
        String socket = handle.data().getString("qmp_socket");
        if (socket == null) return false;
        try {
            QmpClient.execute(Path.of(socket), command);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void requireFile(Path p, String what) throws VmException {
        if (!Files.isRegularFile(p)) throw new VmException("boot_failed", what + " not found: " + p);
    }

    static Optional<Path> findOnPath(String binary) {
        if (binary.contains("/")) return Files.isExecutable(Path.of(binary)) ? Optional.of(Path.of(binary)) : Optional.empty();
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/local/bin:/usr/bin:/bin";
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, binary);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }
}
