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

    /** Short name used in config and handles: "qemu", "vfkit", "process". */
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
     * (crash between spawn and persist). The caller adopts or destroys them.
     */
    default List<VmHandle> findOrphans(String namePrefix) {
        return List.of();
    }

    /** Force-kills a VM found by {@link #findOrphans} or left over. Idempotent. */
    void destroy(VmHandle handle);

    enum VmStatus { RUNNING, STOPPED, LOST }

    /** How a VM ended. {@code forced} is true when it had to be killed. */
    record VmExit(Integer exitCode, boolean forced, String detail) {}

    record RecoverResult(VmStatus status, VmHandle handle, String detail) {}
}
