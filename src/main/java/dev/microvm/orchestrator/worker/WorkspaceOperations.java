package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.TaskRecord;
import io.vertx.core.json.JsonObject;

import java.util.Optional;

/** Making a task's workspace and inputs before its VM boots (the git executor's first step), and checking them at intake. */
public interface WorkspaceOperations {

    /** The task's route to the credential proxy: the proxy's port and the task's placeholder token. */
    record ProxyRoute(int port, String token) {}

    /**
     * Prepares the workspace and the io share of {@code taskId}.
     *
     * @param egressPort the task's listener on the egress proxy (network allowlist), 0 for none
     * @return how it was prepared (base_commit, base_branch, agent_base_commit, method, proxy_port, ...),
     *         the {@code prepared} object of the task record
     */
    JsonObject prepare(String taskId, Optional<ProxyRoute> proxy, int egressPort);

    /**
     * Checks, before the task {@code queued} exists, the environment it would run with (see
     * {@link dev.microvm.orchestrator.node.Addresses#WORKER_ENVIRONMENT}); refuses with reason
     * {@code environment_invalid} what prepare would refuse.
     *
     * @return {environment} as prepare would record it, or {} when the task's base names no commit
     */
    JsonObject checkEnvironment(TaskRecord queued);
}
