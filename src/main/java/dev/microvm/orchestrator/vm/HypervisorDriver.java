package dev.microvm.orchestrator.vm;

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
     * URL under which the guest reaches its task's listener on the host's egress proxy (network
     * allowlist: HTTP_PROXY and HTTPS_PROXY), or empty when the spec's network has none.
     */
    default Optional<String> egressProxyUrlForGuest(VmSpec spec) {
        return Optional.empty();
    }

    /**
     * True when the guest sees ownership and mode of shared files through the hypervisor's own
     * mapping (QEMU 9p {@code security_model=mapped-xattr}) rather than the host's: the host then
     * stamps a prepared workspace with the guest agent's ownership ({@link MappedOwnership}), and
     * nothing the guest does (setuid bits, device nodes) reaches the host's own metadata.
     */
    default boolean mapsShareOwnership() {
        return false;
    }

    /** False for a driver that runs the task runner without booting a guest image (no manifest is read). */
    default boolean bootsImages() {
        return true;
    }

    /** Guest architectures this driver boots (an image of another architecture is refused). */
    default java.util.Set<String> architectures() {
        return java.util.Set.of("x86_64", "aarch64");
    }

    /**
     * The network policies ({@code full}, {@code allowlist}, {@code api-only}, {@code none}) this
     * driver enforces on this host. A task asking for another one is refused before any VM starts,
     * with {@link NetworkSupport#refusal}: a policy is never silently weakened.
     */
    default NetworkSupport networkSupport() {
        return NetworkSupport.of(java.util.Map.of("none", ""), java.util.Map.of());
    }

    /**
     * @param enforced policy → how this driver enforces it (shown to users)
     * @param refused  policy → why this driver cannot enforce it on this host
     */
    record NetworkSupport(java.util.Map<String, String> enforced, java.util.Map<String, String> refused) {
        public NetworkSupport {
            enforced = java.util.Map.copyOf(enforced);
            refused = java.util.Map.copyOf(refused);
        }

        public static NetworkSupport of(java.util.Map<String, String> enforced, java.util.Map<String, String> refused) {
            return new NetworkSupport(enforced, refused);
        }

        public boolean enforces(String policy) {
            return enforced.containsKey(policy);
        }

        /** The message a refused task carries. */
        public String refusal(String driver, String policy) {
            String why = refused.getOrDefault(policy, "the " + driver + " driver does not enforce it");
            return "network '" + policy + "' cannot be enforced here: " + why + ". This host enforces: "
                    + String.join(", ", new java.util.TreeSet<>(enforced.keySet())) + " (choose one with the run_task option network, or default_network in config.json)";
        }
    }

    enum VmStatus { RUNNING, STOPPED, LOST }

    /** How a VM ended. {@code forced} is true when it had to be killed. */
    record VmExit(Integer exitCode, boolean forced, String detail) {}

    record RecoverResult(VmStatus status, VmHandle handle, String detail) {}
}
