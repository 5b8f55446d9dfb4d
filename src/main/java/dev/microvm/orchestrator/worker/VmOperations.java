package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.json.JsonObject;

import java.time.Duration;

/** A task's VM through the hypervisor driver: the vm executor's operations. */
public interface VmOperations {

    /** What recovery found: {@code running}, {@code stopped}, {@code lost} or {@code never_started}. */
    record Recovery(String status, String detail, WorkspaceOperations.ProxyRoute proxy) {}

    /** Boots the task's VM; its handle is on disk before this returns. @return the VM's pid */
    long start(String taskId);

    /**
     * Waits up to {@code millis} for the VM to end and reads the console after {@code logOffset}.
     *
     * @return {running, exit?, cancel_requested, log_offset, log_lines?, log_more?, log_continues?,
     *         output_skipped?, progress?} as documented at {@code Addresses.WORKER_VM_AWAIT}
     */
    JsonObject await(String taskId, long millis, long logOffset);

    /** Stops the VM (graceful for {@code grace}, then forced); a task without one has its orphans destroyed. */
    HypervisorDriver.VmExit stop(String taskId, Duration grace);

    /** Re-attaches to the VM of a task adopted from another process. */
    Recovery recover(String taskId);

    /** Forgets what this process keeps in memory for the task (handle, progress parser). */
    void forget(String taskId);
}
