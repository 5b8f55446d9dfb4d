package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A task's way to a running VM, on its {@link TaskVerticle}'s context: a slot, the workspace, the
 * VM (QUEUED → STARTING → RUNNING); after a restart, the slot it had and the VM it left.
 */
final class TaskStart {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TaskStart.class);
    private static final long QUEUE_PATIENCE_MS = Long.MAX_VALUE / 4;
    private static final long RECLAIM_PATIENCE_MS = 60_000;

    private final TaskVerticle task;

    TaskStart(TaskVerticle task) {
        this.task = task;
    }

    private TaskRecord record() {
        return task.record();
    }

    void acquireSlot() {
        JsonObject req = task.base().put("repo_key", record().repoPath());
        SlotRequest.acquire(task.vertx(), req, QUEUE_PATIENCE_MS, task::wantsSlot).onComplete(ar -> {
            if (ar.failed()) {
                // a withdrawn request (cancel while queued) is finished by the cancel itself
                if (task.wantsSlot()) task.fail(FailureReason.SLOT_UNAVAILABLE, ar.cause().getMessage());
                return;
            }
            int slot = ar.result();
            if (!task.wantsSlot()) { // cancelled while the grant was on its way
                task.releaseUnneeded(slot);
                return;
            }
            task.transition(TaskState.STARTING, r -> r.withSlot(slot), new JsonObject().put("slot", slot)).onSuccess(v -> boot());
        });
    }

    /** On the slot the record names: prepare the workspace and start the VM (STARTING → RUNNING). */
    void boot() {
        registerWithProxy()
                .compose(proxy -> openEgress(0).compose(egress -> task.ask(Addresses.WORKER_PREPARE,
                        task.base().put("proxy", proxy).put("egress", egress))))
                .compose(prep -> task.persist(record().withPrepared(prep.getJsonObject("prepared")), null))
                .compose(v -> {
                    // asked before the VM starts: bound at once where the address exists already, else as soon as
                    // the VM's start brings it up (a vmnet bridge), and in any case awaited before RUNNING
                    Future<Void> listening = openGuestApiListener();
                    return task.ask(Addresses.WORKER_VM_START).compose(started -> listening.map(started));
                })
                .onComplete(started -> {
                    if (started.failed()) {
                        task.failFrom(started.cause(), FailureReason.START_FAILED);
                        return;
                    }
                    Long pid = started.result().getLong("pid");
                    task.transition(TaskState.RUNNING, r -> r.withPid(pid), new JsonObject().put("pid", pid))
                            .onSuccess(v -> task.run.watch(task.clock.instant()));
                });
    }

    /**
     * A per-task placeholder token from the credential proxy, so the agent never holds the real
     * key. Without a proxy (no credentials configured) only a custom agent command can run.
     */
    private Future<JsonObject> registerWithProxy() {
        if (task.policy.credentialInFile()) return Future.succeededFuture(null); // the worker writes the credential file
        return task.vertx().eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, task.base(), new DeliveryOptions().setSendTimeout(10_000))
                .map(Message::body)
                .recover(e -> {
                    if (record().options().agentCommand() != null) return Future.succeededFuture(null);
                    return Future.failedFuture(new TaskFailure(FailureReason.NO_CREDENTIALS, "the agent (Claude Code) needs API credentials and none are configured: "
                            + "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN for the orchestrator, or run: microvm-orchestrator setup-token"));
                });
    }

    /**
     * Where the guest reaches the credential proxy when loopback is not enough (the prepared
     * {@code api_listener}: vfkit's vmnet gateway, which may exist only once the VM runs, or the
     * task's vsock unix socket). A guest told a route nobody listens on fails the task here, clearly.
     */
    private Future<Void> openGuestApiListener() {
        JsonObject where = record().prepared() == null ? null : record().prepared().getJsonObject("api_listener");
        if (where == null) return Future.succeededFuture();
        JsonObject req = task.base().mergeIn(where);
        int port = record().prepared().getInteger("proxy_port", 0);
        if (port > 0) req.put("port", port); // the port the guest was told, also after a restart
        return task.vertx().eventBus().<JsonObject>request(Addresses.PROXY_LISTEN, req, new DeliveryOptions().setSendTimeout(45_000))
                .<Void>mapEmpty()
                .recover(e -> Future.failedFuture(new TaskFailure(FailureReason.NO_API_ROUTE,
                        "the guest cannot reach the credential proxy: " + e.getMessage())));
    }

    /**
     * Under network allowlist, this task's listener on the egress proxy ({@code port} 0: a new one;
     * otherwise the port a recovered VM booted with). No egress proxy means the task fails: it never
     * runs with a weaker network than it asked for.
     */
    private Future<JsonObject> openEgress(int port) {
        if (!"allowlist".equals(record().options().network())) return Future.succeededFuture(null);
        JsonObject req = task.base().put("domains", new JsonArray(record().options().allowedDomains())).put("port", port);
        return task.vertx().eventBus().<JsonObject>request(Addresses.EGRESS_OPEN, req, new DeliveryOptions().setSendTimeout(10_000))
                .map(Message::body)
                .recover(e -> Future.failedFuture(new TaskFailure(FailureReason.NETWORK_UNAVAILABLE,
                        "network allowlist needs the egress proxy: " + e.getMessage())));
    }

    /** After a restart: the slot the record names, then whatever its VM left. */
    void reclaimSlotAndRecover() {
        if (record().slot() == null) {
            task.fail(FailureReason.SLOT_UNAVAILABLE, "could not re-take a slot: the task record names no slot");
            return;
        }
        JsonObject req = task.base().put("repo_key", record().repoPath()).put("slot", record().slot());
        SlotRequest.acquire(task.vertx(), req, RECLAIM_PATIENCE_MS, () -> !record().state().isTerminal()).onComplete(ar -> {
            if (ar.failed()) {
                task.fail(FailureReason.SLOT_UNAVAILABLE, "could not re-take slot " + record().slot() + ": " + ar.cause().getMessage());
            } else if (record().state().isTerminal()) {
                task.releaseUnneeded(ar.result());
            } else {
                recoverVm();
            }
        });
    }

    private void recoverVm() {
        task.ask(Addresses.WORKER_VM_RECOVER).onComplete(ar -> {
            if (ar.failed()) {
                task.failFrom(ar.cause(), FailureReason.RECOVER_FAILED);
                return;
            }
            String status = ar.result().getString("status");
            switch (status) {
                case "running" -> {
                    restoreApiRoute(ar.result().getJsonObject("proxy"));
                    openGuestApiListener().onFailure(e -> LOG.warn("task {}: {}", record().id(), e.getMessage()));
                    int egressPort = record().prepared() == null ? 0 : record().prepared().getInteger("egress_port", 0);
                    if (egressPort > 0) {
                        openEgress(egressPort).onFailure(e -> LOG.warn("task {}: the agent's egress proxy (port {}) could not be restored: {}",
                                record().id(), egressPort, e.getMessage()));
                    }
                    toRunning().onSuccess(v -> task.run.watch(parseOr(record().startedAt())));
                }
                case "stopped" -> toRunning().onSuccess(v -> task.end.collectAndMerge());
                case "never_started" -> {
                    if (record().state() != TaskState.STARTING) {
                        task.fail(FailureReason.VM_LOST, "the VM handle of this running task is missing after an orchestrator restart");
                    } else if (task.cancelRequested()) {
                        task.transition(TaskState.CANCELLED, r -> r.withFailure(FailureReason.CANCELLED, "cancelled before it started"), null)
                                .onSuccess(x -> task.finish());
                    } else {
                        // its process ended before the VM was spawned: nothing ran, so it starts now instead of failing
                        LOG.info("task {}: its VM was never started; starting it on slot {}", record().id(), record().slot());
                        boot();
                    }
                }
                default -> task.fail(FailureReason.VM_LOST, "the VM of this task could not be found after an orchestrator restart: "
                        + ar.result().getString("detail", status));
            }
        });
    }

    private Future<Void> toRunning() {
        return record().state() == TaskState.STARTING
                ? task.transition(TaskState.RUNNING, r -> r, new JsonObject().put("recovered", true))
                : Future.succeededFuture();
    }

    /**
     * A re-attached VM keeps the proxy address and placeholder it booted with; this process's proxy
     * takes that placeholder and listens on that port too (free again: its previous owner died).
     */
    private void restoreApiRoute(JsonObject proxy) {
        if (proxy == null) return;
        task.vertx().eventBus().<JsonObject>request(Addresses.PROXY_REGISTER, task.base().put("token", proxy.getString("token"))
                        .put("port", proxy.getInteger("port")), new DeliveryOptions().setSendTimeout(10_000))
                .onSuccess(m -> {
                    if (!m.body().getBoolean("route_restored", false)) {
                        LOG.warn("task {}: the agent's API route (port {}) could not be restored: {}", record().id(), proxy.getInteger("port"),
                                m.body().getString("detail", "unknown"));
                    }
                })
                .onFailure(e -> LOG.warn("task {}: no API proxy to take over the agent's route: {}", record().id(), e.getMessage()));
    }

    private java.time.Instant parseOr(String ts) {
        try {
            return ts == null ? task.clock.instant() : java.time.Instant.parse(ts);
        } catch (RuntimeException e) {
            return task.clock.instant();
        }
    }
}
