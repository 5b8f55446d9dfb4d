package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The verbs every hypervisor driver offers. All of them block: call them from the worker pool only.
 *
 * <p>A VM outlives the orchestrator process that started it: {@link #start} spawns the hypervisor
 * detached, with a scrubbed environment, and returns a handle that the caller persists before it
 * reports the task running. Whichever process starts next calls {@link #recover} with that handle.
 */
public interface HypervisorDriver {

    /** Short name used in config and handles: "qemu", "vfkit", or a {@link DriverProvider}'s. */
    String name();

    /** Spawns the VM; returns once the hypervisor process exists. */
    VmHandle start(VmSpec spec) throws VmException;

    /**
     * Waits until the VM has stopped or {@code timeout} passes.
     *
     * @return the exit, or empty on timeout (the VM is still running)
     */
    Optional<VmExit> await(VmHandle handle, Duration timeout) throws VmException, InterruptedException;

    /** Asks the guest to shut down, waits up to {@code grace}, then forces it off. Idempotent. */
    VmExit stop(VmHandle handle, Duration grace) throws VmException, InterruptedException;

    /** Current state, without side effects. */
    VmStatus inspect(VmHandle handle);

    /**
     * Re-attaches to a VM recorded by an earlier process. Idempotent. A VM that cannot be safely
     * re-attached (for instance its pid now belongs to another process) is reported LOST; a
     * hypervisor process that exists but cannot be controlled is force-destroyed first.
     */
    RecoverResult recover(VmHandle handle);

    /**
     * Hypervisor processes tagged with a VM name whose handle may never have been persisted
     * (crash between spawn and persist). The caller adopts or destroys them — but only those whose
     * {@code data.control_dir} lies under its own state directory: other orchestrator instances
     * (other state directories, test runs) may be running VMs on the same host.
     */
    default List<VmHandle> findOrphans(String namePrefix) {
        return List.of();
    }

    /** Force-kills a VM found by {@link #findOrphans} or left over. Idempotent. */
    void destroy(VmHandle handle);

    /**
     * Waits until the guest has booted and its task runner has started. A guest that never gets
     * there is destroyed and reported as {@code boot_timeout} (naming the accelerator where there
     * is one); a hypervisor that exits first is reported as {@code boot_failed}.
     */
    default void awaitReady(VmHandle handle, Duration timeout) throws VmException, InterruptedException {}

    /** Receives a started VM's handle before the guest is waited for (to persist it: recovery needs it). */
    @FunctionalInterface
    interface StartedHook {
        void started(VmHandle handle) throws IOException;
    }

    /**
     * Starts the VM, hands its handle to {@code started}, and waits until the guest is ready. A
     * driver that can tell a guest failed because of its own setting (an accelerator that does not
     * boot guests here) may change that setting and boot again; {@code started} then sees each
     * handle in turn and the last one is returned.
     */
    default VmHandle boot(VmSpec spec, Duration readyTimeout, StartedHook started) throws VmException, IOException, InterruptedException {
        VmHandle handle = start(spec);
        started.started(handle);
        awaitReady(handle, readyTimeout);
        return handle;
    }

    /** Where the guest sees {@code share}: the path to write into alternates and the like. */
    default String guestPath(VmSpec.Share share) {
        return switch (share.tag()) {
            case GuestContract.TAG_WORKSPACE -> GuestContract.GUEST_WORKSPACE;
            case GuestContract.TAG_IO -> GuestContract.GUEST_IO;
            case GuestContract.TAG_OBJECTS -> GuestContract.GUEST_OBJECTS;
            default -> "/run/mvo/shares/" + share.tag();
        };
    }

    /**
     * Base URL under which the guest reaches the host's credential proxy (listening on
     * 127.0.0.1:{@code apiProxyPort}), or empty when the spec's network gives no such route.
     */
    default Optional<String> apiBaseUrlForGuest(VmSpec spec) {
        return Optional.empty();
    }

    /**
     * Where the credential proxy must also listen for this spec's guest to reach it at
     * {@link #apiBaseUrlForGuest}; empty when its loopback listener is enough (QEMU relays to it).
     * Blocking (it may read the host's network settings): worker threads only.
     */
    default Optional<GuestApiListener> apiListener(VmSpec spec) {
        return Optional.empty();
    }

    /**
     * Further variables for the guest's runner ({@code task.env}), e.g. a relay it must start
     * for the guest to reach the host; empty by default.
     */
    default java.util.Map<String, String> guestEnvironment(VmSpec spec) {
        return java.util.Map.of();
    }

    /**
     * URL under which the guest reaches its task's listener on the host's egress proxy (network
     * allowlist: HTTP_PROXY and HTTPS_PROXY), or empty when the spec's network has none.
     */
    default Optional<String> egressProxyUrlForGuest(VmSpec spec) {
        return Optional.empty();
    }

    /** What this driver can do on this host (read-only shares, network policies, architectures…). */
    DriverCapabilities capabilities();

    /**
     * Looks at the hypervisor on this host: its version, the accelerator guests would get, and
     * whether a guest could boot now. Blocking but cheap (about a second at most): it runs at node
     * start and every minute.
     */
    DriverProbe probe();

    enum VmStatus { RUNNING, STOPPED, LOST }

    /** How a VM ended. {@code forced} is true when it had to be killed. */
    record VmExit(Integer exitCode, boolean forced, String detail) {}

    record RecoverResult(VmStatus status, VmHandle handle, String detail) {}
}
