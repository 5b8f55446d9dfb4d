package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonObject;

import java.util.Optional;

/** Making a task's workspace and inputs before its VM boots: the git executor's first step. */
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
}
