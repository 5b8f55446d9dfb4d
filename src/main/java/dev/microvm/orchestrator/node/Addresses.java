package dev.microvm.orchestrator.node;

/**
 * Every event-bus address in one place. Request bodies and replies are {@code JsonObject}s (no
 * codecs to register, tolerant of mixed versions in a cluster); their fields are documented
 * next to each address.
 */
public final class Addresses {
    private static final String P = "mvo.";

    /** Published on this host only: every event appended to its log, as {@code TaskEvent#toJson()}. */
    public static final String EVENTS = P + "events";

    // ---- task control (TaskManager on the node that owns tasks) ----
    /** Request {repo, description, options...} → reply task record JSON. */
    public static final String TASK_SUBMIT = P + "task.submit";
    /** Request {task_id} → reply task record JSON (with result and merge_result). */
    public static final String TASK_GET = P + "task.get";
    /** Local to a daemon: request {} → reply {clients}: MCP processes attached over the daemon channel. */
    public static final String DAEMON_CLIENTS = P + "daemon.clients";
    /** Request {status?, repo?} → reply {tasks:[...]}. */
    public static final String TASK_LIST = P + "task.list";
    /** Request {task_id, offset?, tail?, limit?, stream?} → reply {content, offset, next_offset, size}. */
    public static final String TASK_LOGS = P + "task.logs";
    /** Request {task_id, offset?, limit?} → reply {diff, files, next_offset, ...}. */
    public static final String TASK_DIFF = P + "task.diff";
    /** Request {task_id} → reply task record JSON. */
    public static final String TASK_CANCEL = P + "task.cancel";
    /** Request {task_id, strategy} → reply merge result JSON. */
    public static final String TASK_MERGE = P + "task.merge";
    /** Request {task_id, prompt, options...} → reply new task record JSON. */
    public static final String TASK_CONTINUE = P + "task.continue";
    /** Request {task_id, delete_ref} → reply {success, ...}. */
    public static final String TASK_CLEANUP = P + "task.cleanup";
    /** Local publication {task_id}: a TaskVerticle has finished and undeploys itself. */
    public static final String TASK_FINISHED_LOCAL = P + "task.finished.local";
    /** Per-task control of a deployed TaskVerticle: {@code TASK_CONTROL_PREFIX + taskId}. */
    public static final String TASK_CONTROL_PREFIX = P + "task.ctl.";

    // ---- slots ----
    /**
     * Request {task_id, repo_key[, slot]} → reply {slot} once a slot is free (may wait in the FIFO queue).
     * The reply is an offer: the requester answers it with {@link #slotTaken()} within
     * {@link #SLOT_OFFER_MS} to take the slot, and holds it once that answer is confirmed (replied
     * {slot}); an offer nobody takes (the requester has gone) is
     * withdrawn and the slot goes to the next request.
     */
    public static final String SLOT_ACQUIRE = P + "slot.acquire";
    /** The answer to a slot offer that takes it. Any other answer (or none) declines it. */
    public static io.vertx.core.json.JsonObject slotTaken() {
        return new io.vertx.core.json.JsonObject().put("taken", true);
    }
    /** How long an offered slot waits for its requester's answer. */
    public static final long SLOT_OFFER_MS = 5_000;
    /** Request {task_id, slot} → reply {released: bool}. Idempotent. */
    public static final String SLOT_RELEASE = P + "slot.release";
    /** Request {} → reply {max_slots, active:[{slot,task_id}], available:[...], queued:[...]}. */
    public static final String SLOT_LIST = P + "slot.list";
    /** Request {task_id} → reply {removed: bool}: drop a queued slot request. */
    public static final String SLOT_DEQUEUE = P + "slot.dequeue";

    // ---- repositories ----
    /** Request {} → reply {repos:[{alias, path, added}]}. */
    public static final String REPO_LIST = P + "repo.list";

    // ---- credential proxy (local to the host that runs the task's VM) ----
    /**
     * Request {task_id, token?} → reply {token, port}: the placeholder the guest presents as its API
     * key and the proxy's port. Passing a previously issued token re-registers it (recovery).
     */
    public static final String PROXY_REGISTER = P + "proxy.register";
    /**
     * Request {task_id, address | unix_socket, port?} (a {@code vm/GuestApiListener}; port: the
     * proxy port the guest was told, default the proxy's own) → reply {listening}: the proxy also listens where the task's guest reaches it — on a host address of
     * the guest's network (waiting up to 30 s for the address to appear; never a wildcard), or on a
     * unix socket relayed to its loopback listener. Closed with the task's PROXY_UNREGISTER.
     * Fails 400 for a bad request, 503 when it cannot listen.
     */
    public static final String PROXY_LISTEN = P + "proxy.listen";
    /** Request {task_id} → reply {removed: bool, usage: totals}: the placeholder stops working. */
    public static final String PROXY_UNREGISTER = P + "proxy.unregister";
    /** Request {task_id} → reply totals {task_id, requests, input_tokens, output_tokens, cache_*, cost_usd}. */
    public static final String PROXY_USAGE = P + "proxy.usage";

    // ---- egress proxy (network allowlist; local to the host that runs the task's VM) ----
    /**
     * Request {task_id, domains:[...], port?} → reply {port}: a listener on 127.0.0.1 for this task's
     * guest, letting through only those domains. A port from an earlier process (recovery) is reused.
     */
    public static final String EGRESS_OPEN = P + "egress.open";
    /** Request {task_id} → reply {closed: bool}: the task's listener stops. */
    public static final String EGRESS_CLOSE = P + "egress.close";

    // ---- nodes ----
    /** Request {} → reply {nodes:[{node_id, host, slots, running, ...}]}. */
    public static final String NODE_LIST = P + "node.list";
    /**
     * Local: request {recheck?} → reply this node's driver fingerprint {driver, hypervisor, version,
     * accelerator, healthy, detail, checked_at, capabilities:{...}, details:{...}} (vm/DriverFingerprint).
     * With recheck true the driver is checked again first.
     */
    public static final String NODE_DRIVER = P + "node.driver";

    // ---- cluster (between hosts) ----
    /**
     * Node-qualified, on every member: {@code onNode(CLUSTER_NODE_INFO, node)}. Request {} → reply
     * {node, slots, busy, queued, healthy, fingerprint}: an unhealthy member is not offered tasks.
     */
    public static final String CLUSTER_NODE_INFO = P + "cluster.node.info";
    /** Local: request {} → reply {nodes:[{node, slots, busy, queued, healthy, fingerprint, state}], self}: every member's offer, lost ones marked. */
    public static final String CLUSTER_NODES = P + "cluster.nodes";

    /**
     * Local, in a cluster (asked by {@code cluster/ClusterPlacement}): request {record} → reply {node}
     * (the task runs on this host: enqueue it here) or {record} (the task was placed on another host;
     * the reply is its home record). Without a consumer (cluster verticles not up yet) the task runs here.
     */
    public static final String CLUSTER_PLACE = P + "cluster.place";
    /** Node-qualified on the executing host. Request {home, alias} → reply {haves:[commit...]}. */
    public static final String CLUSTER_HAVES = P + "cluster.haves";
    /**
     * Node-qualified on the executing host. Request {home, home_task_id, alias, description, caller,
     * options, base_commit, bundle (bytes)} → reply {task_id}: the shadow task that runs it there.
     */
    public static final String CLUSTER_EXECUTE = P + "cluster.execute";
    /**
     * Node-qualified on the executing host. Request {home, home_task_id} → reply {state:
     * running|finished|unknown}: a home host that restarted asks after a task it had placed there;
     * {@code finished} means the task's final event (with its commits) is being sent again.
     */
    public static final String CLUSTER_RESEND = P + "cluster.resend";
    /**
     * Local on the home host. Request {record} → reply {}: follow an unfinished task placed on another
     * host (after a restart of this host) instead of adopting it as a local task.
     */
    public static final String CLUSTER_FOLLOW = P + "cluster.follow";
    /** Node-qualified on the executing host. Request {home_task_id} → reply {}: cancel the shadow task. */
    public static final String CLUSTER_CANCEL = P + "cluster.cancel";
    /**
     * Node-qualified on the home host. Request {home_task_id, node, type, data, bundle?} → reply
     * {commits_kept?, pending?}: one event of a shadow task, in order; a terminal state carries the
     * task's commits as a bundle (and the end of the agent log), and {@code commits_kept: true} in its
     * reply means the home host has saved them (or there were none), so the executing host may delete
     * its copy; {@code pending: true} means home restarted and will ask again ({@link #CLUSTER_RESEND}).
     */
    public static final String CLUSTER_TASK_EVENT = P + "cluster.task.event";

    /** The per-node form of a cluster address; node ids are member names ({@code [a-z0-9.-]}). */
    public static String onNode(String address, String nodeId) {
        return address + "@" + nodeId;
    }

    // ---- worker pool (local to each node; all blocking work) ----
    /** Request {task_id} → reply {owned: bool}: take the task's owner lock (one process per task). */
    public static final String WORKER_OWN = P + "worker.own";
    /** Request {task_id} → reply {}: drop the owner lock. */
    public static final String WORKER_DISOWN = P + "worker.disown";
    /**
     * Request {record?, event?, accept_before?} → reply {seq?}: persist the record, then append + publish its
     * event. A task's persists run in the order sent. Fails with reason {@code stale_record} when the disk already holds
     * the record's revision or a newer one, {@code [request_expired]} after accept_before; nothing is written then.
     */
    public static final String WORKER_PERSIST = P + "worker.persist";
    /** Request {task_id} → reply {prepared}: make the task's workspace and inputs. */
    public static final String WORKER_PREPARE = P + "worker.prepare";
    /**
     * Request {record} (a QUEUED record not yet written) → reply {environment?}: the environment the
     * task would run with ({source, commit, sha256, value, file?}, as prepare records it), read at the
     * commit its base names now (a follow-up: the original task's). Fails with reason
     * {@code environment_invalid} (malformed file, ungranted secret); no {@code environment} when the
     * base names no commit (prepare refuses such a task with the reason).
     */
    public static final String WORKER_ENVIRONMENT = P + "worker.environment";
    /** Request {task_id} → reply {pid}: boot the VM; the handle is persisted before the reply. */
    public static final String WORKER_VM_START = P + "worker.vm.start";
    /** Request {task_id, millis, log_offset} → reply {running, exit?, cancel_requested, log_lines, log_offset}. */
    public static final String WORKER_VM_AWAIT = P + "worker.vm.await";
    /** Request {task_id, grace_seconds} → reply {exit}. */
    public static final String WORKER_VM_STOP = P + "worker.vm.stop";
    /** Request {task_id} → reply {status: running|stopped|lost|never_started, detail, proxy?: {token, port}}. */
    public static final String WORKER_VM_RECOVER = P + "worker.vm.recover";
    /** Request {task_id} → reply {finished, exit_code, commits, task_tip, result, reason?, error?}. */
    public static final String WORKER_COLLECT = P + "worker.collect";
    /** Request {task_id, strategy} → reply merge result JSON. */
    public static final String WORKER_MERGE = P + "worker.merge";
    /** Request {task_id, offset?, limit?} → reply diff page JSON. */
    public static final String WORKER_DIFF = P + "worker.diff";
    /** Request {task_id, delete_ref} → reply {success, removed:[...]}. */
    public static final String WORKER_CLEANUP = P + "worker.cleanup";

    private Addresses() {}
}
