package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.AllowedDomains;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.vm.DriverFingerprint;
import dev.microvm.orchestrator.vm.NetworkSupport;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * Entry point for task requests on a node: submits, lists, reads, cancels, merges and cleans up
 * tasks; deploys one {@link TaskVerticle} per task this process owns; on start (and periodically)
 * adopts unfinished tasks nobody owns — after a crash or the exit of another orchestrator process.
 */
public final class TaskManagerVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(TaskManagerVerticle.class);
    private static final long ADOPT_INTERVAL_MS = 5_000;
    private static final DeliveryOptions PLACE = new DeliveryOptions().setLocalOnly(true).setSendTimeout(180_000);

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final RepoRegistry repos;
    private final EventSink events;
    private final Clock clock;
    private final String nodeId;
    private final Map<String, String> deployments = new HashMap<>();
    private long adoptTimer = -1;
    private boolean adopting;
    private final Supplier<DriverFingerprint> driver;

    /** @param driver this node's driver as last checked: its network policies, and whether it takes tasks at all */
    public TaskManagerVerticle(StatePaths paths, OrchestratorConfig config, TaskStore store, RepoRegistry repos,
                               EventSink events, Clock clock, String nodeId, Supplier<DriverFingerprint> driver) {
        this.driver = driver;
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.repos = repos;
        this.events = events;
        this.clock = clock;
        this.nodeId = nodeId;
    }

    @Override
    public Future<?> start() {
        var bus = vertx.eventBus();
        // local: in a cluster every host has its own task manager; a clustered consumer would round-robin requests across hosts
        List<Future<?>> regs = List.of(
                bus.<JsonObject>localConsumer(Addresses.TASK_SUBMIT, m -> handle(m, this::submit)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CONTINUE, m -> handle(m, this::continueTask)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_GET, m -> handle(m, this::get)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_LIST, m -> handle(m, this::list)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_LOGS, m -> handle(m, this::logs)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_DIFF, m -> handle(m, this::diff)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CANCEL, m -> handle(m, this::cancel)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_MERGE, m -> handle(m, this::merge)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CLEANUP, m -> handle(m, this::cleanup)).completion(),
                bus.<JsonObject>localConsumer(Addresses.REPO_LIST, m -> handle(m, b -> blocking(this::repoList))).completion(),
                bus.<JsonObject>localConsumer(Addresses.NODE_LIST, m -> handle(m, b -> nodeList())).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_FINISHED_LOCAL, m -> deployments.remove(m.body().getString("task_id"))).completion());
        return Future.all(regs).compose(v -> adoptOrphans()).onSuccess(v ->
                adoptTimer = vertx.setPeriodic(ADOPT_INTERVAL_MS, id -> adoptOrphans()));
    }

    @Override
    public Future<?> stop() {
        if (adoptTimer >= 0) vertx.cancelTimer(adoptTimer);
        return Future.succeededFuture();
    }

    // ---------------------------------------------------------------- requests

    private Future<JsonObject> submit(JsonObject b) {
        String description = b.getString("description");
        if (description == null || description.isBlank()) return Future.failedFuture(new IllegalArgumentException("description is required: say what the agent should do"));
        if (description.length() > 200_000) return Future.failedFuture(new IllegalArgumentException("description is too long (max 200000 characters)"));
        // options arrive nested ({options:{...}}) from the CLI and flat from MCP tool arguments
        JsonObject requested = b.getJsonObject("options", b);
        TaskOptions.fromJson(requested); // refuse bad options before touching anything
        String alias = b.getString("repo");
        String caller = b.getString("caller");
        Long acceptBefore = b.getLong("accept_before");
        return blocking(() -> {
            RepoRegistry.Repo repo = repos.resolve(alias);
            JsonObject withDefaults = repo.defaults().copy();
            for (String k : requested.fieldNames()) if (requested.getValue(k) != null) withDefaults.put(k, requested.getValue(k));
            TaskOptions options = settleNetwork(TaskOptions.fromJson(withDefaults), repo, TaskOptions.fromJson(requested));
            if (!Files.isDirectory(repo.path().resolve(".git"))) {
                throw new IllegalArgumentException("repository '" + alias + "' at " + repo.path() + " is gone or no longer a git repository; register it again with: microvm-orchestrator allow PATH");
            }
            return TaskRecord.queued(TaskIds.next(), repo.alias(), repo.path().toString(), description, caller, nodeId,
                    options, b.getString("parent_task_id"), clock.instant().toString());
        }).compose(record -> placeOrEnqueue(record, acceptBefore));
    }

    /**
     * The policy of a task that names none. When it is {@code full} and this host cannot enforce
     * it (QEMU without root), such tasks run under the first stricter policy the host enforces
     * (allowlist, then api-only): availability drops, isolation never does. A task or repository
     * that asks for {@code full} itself is still refused.
     */
    private String defaultPolicy() {
        String policy = config.defaultNetwork();
        NetworkSupport networks = driver.get().capabilities().networks();
        if (!"full".equals(policy) || networks.enforces(policy)) return policy;
        for (String stricter : java.util.List.of("allowlist", "api-only")) {
            if (networks.enforces(stricter)) return stricter;
        }
        return policy; // refused below, with the reason
    }

    /**
     * The policy the task runs with, refused here — before any VM — when this host's driver cannot
     * enforce it; under allowlist, the union of the config's, the repository's (state directory) and
     * the task's domains. Both are recorded in the task's options, so info and list show them.
     */
    private TaskOptions settleNetwork(TaskOptions merged, RepoRegistry.Repo repo, TaskOptions own) {
        String policy = merged.network() != null ? merged.network() : defaultPolicy();
        NetworkSupport networks = driver.get().capabilities().networks();
        if (!networks.enforces(policy)) throw new IllegalArgumentException(networks.refusal(driver.get().driver(), policy));
        if (!own.allowedDomains().isEmpty() && !"allowlist".equals(policy)) {
            throw new IllegalArgumentException("allowed_domains applies to network allowlist only; this task's network is '" + policy
                    + "' (add network: allowlist)");
        }
        if (!"allowlist".equals(policy)) return merged.withNetwork(policy, java.util.List.of());
        io.vertx.core.json.JsonArray repoList = repo.defaults().getJsonArray("allowed_domains", new io.vertx.core.json.JsonArray());
        AllowedDomains domains = AllowedDomains.of(config.allowedDomains(), "allowed_domains in config.json")
                .union(AllowedDomains.of(repoList.stream().map(String::valueOf).toList(), "allowed_domains of repository " + repo.alias()))
                .union(AllowedDomains.of(own.allowedDomains(), "allowed_domains"));
        return merged.withNetwork(policy, domains.patterns());
    }

    /**
     * In a cluster a placement consumer may run the task on another host; it then answers with the
     * task's home record, which it keeps up to date. Without one (a single host) the task is enqueued
     * here exactly as before. The id is reserved meanwhile so the adoption sweep leaves it alone.
     */
    private Future<JsonObject> placeOrEnqueue(TaskRecord record, Long acceptBefore) {
        deployments.put(record.id(), "placing");
        if (acceptBefore != null && clock.millis() > acceptBefore) {
            return Future.failedFuture("[request_expired] the request arrived after its sender stopped waiting; no task was created");
        }
        return vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_PLACE, new JsonObject().put("record", record.toJson()), PLACE)
                .transform(ar -> {
                    JsonObject placed = ar.succeeded() ? ar.result().body().getJsonObject("record") : null;
                    if (placed != null) {
                        deployments.put(record.id(), "remote");
                        return Future.succeededFuture(placed);
                    }
                    deployments.remove(record.id());
                    if (ar.failed() && !(ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS)) {
                        LOG.warn("cluster placement failed for task {} ({}); it runs here", record.id(), ar.cause().getMessage());
                    }
                    return enqueue(record, acceptBefore);
                });
    }

    private Future<JsonObject> continueTask(JsonObject b) {
        String parentId = TaskIds.require(b.getString("task_id"));
        String prompt = b.getString("prompt");
        if (prompt == null || prompt.isBlank()) return Future.failedFuture(new IllegalArgumentException("prompt is required: say what the follow-up run should do"));
        return load(parentId).compose(parent -> {
            if (!parent.state().isTerminal()) {
                return Future.failedFuture(new IllegalArgumentException("task " + parentId + " is still " + parent.state().wireName() + "; continue it once it has finished"));
            }
            JsonObject opts = b.getJsonObject("options", b).copy();
            opts.remove("task_id");
            opts.remove("prompt");
            opts.remove("caller");
            opts.remove("accept_before");
            JsonObject parentOpts = parent.options().toJson();
            for (String k : parentOpts.fieldNames()) if (!opts.containsKey(k)) opts.put(k, parentOpts.getValue(k));
            opts.put("base", "refs/tasks/" + parentId);
            opts.put("include_uncommitted", false);
            return submit(new JsonObject().put("repo", parent.repo()).put("description", prompt)
                    .put("caller", b.getString("caller", parent.caller())).put("options", opts).put("parent_task_id", parentId)
                    .put("accept_before", b.getLong("accept_before")));
        });
    }

    /**
     * Accepting a task: its record is written and forced to disk before the reply. A request whose
     * sender will have given up by {@code acceptBefore} (epoch milliseconds) is refused instead, so a
     * caller that saw a timeout never finds a task it was told nothing about.
     */
    private Future<JsonObject> enqueue(TaskRecord record, Long acceptBefore) {
        java.util.Optional<String> unhealthy = driver.get().refusal();
        if (unhealthy.isPresent()) return Future.failedFuture(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, 503, unhealthy.get()));
        JsonObject event = new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", record.id())
                .put("data", new JsonObject().put("state", "queued").put("repo", record.repo()).put("caller", record.caller())
                        .put("description", abbreviate(record.description(), 200)));
        JsonObject persist = new JsonObject().put("record", record.toJson()).put("event", event);
        if (acceptBefore != null) persist.put("accept_before", acceptBefore);
        return vertx.eventBus().<JsonObject>request(Addresses.WORKER_OWN, new JsonObject().put("task_id", record.id()))
                .compose(v -> vertx.eventBus().request(Addresses.WORKER_PERSIST, persist)
                        .recover(e -> vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", record.id()))
                                .transform(x -> Future.failedFuture(e))))
                .compose(v -> deploy(record, false))
                .map(v -> record.toJson());
    }

    private Future<Void> deploy(TaskRecord record, boolean recovering) {
        TaskVerticle.TaskPolicy policy = new TaskVerticle.TaskPolicy(config.taskTimeoutSeconds(), config.stopGraceSeconds(),
                config.defaultMergeStrategy(), "file".equals(config.credentialMode()));
        deployments.put(record.id(), "pending");
        return vertx.deployVerticle(new TaskVerticle(record, recovering, policy, clock), new DeploymentOptions())
                .onSuccess(id -> {
                    if (deployments.containsKey(record.id())) deployments.put(record.id(), id);
                })
                .onFailure(e -> deployments.remove(record.id()))
                .mapEmpty();
    }

    private Future<JsonObject> get(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).map(r -> {
            JsonObject j = r.toJson().put("network", r.options().network() != null ? r.options().network() : config.defaultNetwork());
            if ("allowlist".equals(j.getString("network"))) j.put("allowed_domains", new JsonArray(r.options().allowedDomains()));
            return j;
        });
    }

    private Future<JsonObject> list(JsonObject b) {
        String status = b.getString("status");
        if (status != null) TaskState.fromWire(status);
        String repo = b.getString("repo");
        String caller = b.getString("caller");
        boolean activeOnly = b.getBoolean("active_only", false);
        return blocking(() -> {
            JsonArray tasks = new JsonArray();
            JsonArray damaged = new JsonArray();
            for (TaskStore.Entry e : store.loadAll()) {
                if (e.record() == null) {
                    damaged.add(new JsonObject().put("task_id", e.taskId()).put("problem", e.problem()));
                    continue;
                }
                TaskRecord r = e.record();
                if (status != null && !r.state().wireName().equalsIgnoreCase(status)) continue;
                if (repo != null && !repo.equals(r.repo())) continue;
                if (caller != null && !caller.equals(r.caller())) continue;
                if (activeOnly && r.state().isTerminal()) continue;
                tasks.add(new JsonObject().put("task_id", r.id()).put("status", r.state().wireName())
                        .put("description", abbreviate(r.description(), 80)).put("repo", r.repo())
                        .put("created_at", r.createdAt()).put("completed_at", r.completedAt())
                        .put("slot", r.slot()).put("reason", r.reason()).put("caller", r.caller()).put("node", r.node())
                        .put("network", r.options().network() != null ? r.options().network() : config.defaultNetwork()));
            }
            JsonObject out = new JsonObject().put("tasks", tasks);
            if (!damaged.isEmpty()) out.put("damaged", damaged);
            return out;
        });
    }

    private Future<JsonObject> logs(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).compose(r -> blocking(() -> TaskLogs.read(paths, r, b)));
    }

    private Future<JsonObject> diff(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).compose(r -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_DIFF, b.copy().put("task_id", id)))
                .map(Message::body);
    }

    private Future<JsonObject> cancel(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).compose(r -> {
            if (r.state().isTerminal()) return Future.succeededFuture(r.toJson().put("note", "task had already finished"));
            return vertx.eventBus().<JsonObject>request(Addresses.TASK_CONTROL_PREFIX + id, new JsonObject().put("op", "cancel"),
                            new DeliveryOptions().setSendTimeout(10_000))
                    .map(Message::body)
                    .recover(e -> blocking(() -> {
                        // owned by another process on this host: it polls for this marker
                        Files.writeString(paths.taskDir(id).resolve("cancel"), clock.instant().toString());
                        return r.toJson().put("note", "cancel requested; the process that owns the task will stop it");
                    }));
        });
    }

    private Future<JsonObject> merge(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        String strategy = b.getString("strategy", "auto");
        if (!TaskOptions.MERGE_STRATEGIES.contains(strategy)) return Future.failedFuture(new IllegalArgumentException("strategy must be auto, branch or none"));
        return load(id).compose(r -> {
            if (!r.state().isTerminal()) return Future.failedFuture(new IllegalArgumentException("task " + id + " is still " + r.state().wireName() + "; merge it once it has finished"));
            return vertx.eventBus().<JsonObject>request(Addresses.WORKER_MERGE, new JsonObject().put("task_id", id).put("strategy", strategy), new DeliveryOptions().setSendTimeout(10 * 60_000))
                    .map(Message::body)
                    .compose(result -> {
                        TaskRecord updated = r.withMergeResult(result);
                        JsonObject event = new JsonObject().put("type", EventTypes.TASK_MERGED).put("task_id", id)
                                .put("data", new JsonObject().put("merge_result", result).put("caller", r.caller()));
                        return vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("record", updated.toJson()).put("event", event)).map(result);
                    });
        });
    }

    private Future<JsonObject> cleanup(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        boolean deleteRef = b.getBoolean("delete_ref", false);
        return load(id).compose(r -> {
            if (!r.state().isTerminal()) return Future.failedFuture(new IllegalArgumentException("task " + id + " is still " + r.state().wireName() + "; cancel it first (cancel_task)"));
            return vertx.eventBus().<JsonObject>request(Addresses.WORKER_CLEANUP, new JsonObject().put("task_id", id).put("delete_ref", deleteRef)).map(Message::body);
        });
    }

    private JsonObject repoList() {
        JsonArray out = new JsonArray();
        repos.list().forEach(r -> out.add(r.toJson()));
        return new JsonObject().put("repos", out);
    }

    private Future<JsonObject> nodeList() {
        return Future.succeededFuture(new JsonObject().put("nodes", new JsonArray().add(new JsonObject()
                .put("node_id", nodeId).put("slots", config.slots()).put("driver", config.driver())
                .put("owned_tasks", deployments.size()).put("state", "up")
                .put("healthy", driver.get().healthy()).put("fingerprint", driver.get().toJson()))));
    }

    // ---------------------------------------------------------------- recovery

    /** Adopts every unfinished task whose owner lock is free (its process died or exited). */
    private Future<Void> adoptOrphans() {
        if (adopting) return Future.succeededFuture();
        adopting = true;
        return blocking(() -> store.loadAll().stream()
                .filter(e -> e.record() != null && !e.record().state().isTerminal() && !deployments.containsKey(e.taskId()))
                .map(TaskStore.Entry::record).toList())
                .compose(candidates -> {
                    Future<Void> chain = Future.succeededFuture();
                    for (TaskRecord r : candidates) {
                        chain = chain.compose(v -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_OWN, new JsonObject().put("task_id", r.id()))
                                .compose(reply -> {
                                    if (!reply.body().getBoolean("owned", false) || deployments.containsKey(r.id())) return Future.succeededFuture();
                                    // re-read under the lock: the previous owner may have finished it meanwhile
                                    return load(r.id()).compose(fresh -> {
                                        if (fresh.state().isTerminal()) {
                                            return vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", r.id())).<Void>mapEmpty();
                                        }
                                        if (vertx.isClustered() && fresh.node() != null && !fresh.node().equals(nodeId)) {
                                            return followRemote(fresh);
                                        }
                                        LOG.info("recovering task {} ({})", fresh.id(), fresh.state().wireName());
                                        return deploy(fresh, true);
                                    });
                                })
                                .recover(e -> {
                                    LOG.warn("could not recover task {}: {}", r.id(), e.getMessage());
                                    return Future.succeededFuture();
                                }));
                    }
                    return chain;
                })
                .eventually(() -> {
                    adopting = false;
                    return Future.succeededFuture();
                });
    }

    /**
     * A task this host placed on another host before it restarted: the cluster side follows it
     * again. Until the cluster's verticles are up (they deploy after this one) it waits for the
     * next sweep; if they refuse it, it is recovered here like a local task.
     */
    private Future<Void> followRemote(TaskRecord r) {
        return vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_FOLLOW, new JsonObject().put("record", r.toJson()))
                .transform(ar -> {
                    if (ar.succeeded()) {
                        deployments.put(r.id(), "remote");
                        return vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", r.id())).<Void>mapEmpty();
                    }
                    if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
                        return vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", r.id())).<Void>mapEmpty();
                    }
                    LOG.warn("task {} placed on {} cannot be followed ({}); recovering it here", r.id(), r.node(), ar.cause().getMessage());
                    return deploy(r, true);
                });
    }

    // ---------------------------------------------------------------- plumbing

    private Future<TaskRecord> load(String id) {
        return blocking(() -> store.load(id).orElseThrow(() -> new UnknownTaskException(id)));
    }

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }

    private void handle(Message<JsonObject> msg, java.util.function.Function<JsonObject, Future<JsonObject>> op) {
        Future<JsonObject> f;
        try {
            f = op.apply(msg.body() == null ? new JsonObject() : msg.body());
        } catch (RuntimeException e) {
            f = Future.failedFuture(e);
        }
        f.onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result());
            else msg.fail(codeOf(ar.cause()), messageOf(ar.cause()));
        });
    }

    static int codeOf(Throwable t) {
        if (t instanceof UnknownTaskException || t instanceof RepoRegistry.UnknownRepoException) return 404;
        if (t instanceof IllegalArgumentException) return 400;
        if (t instanceof io.vertx.core.eventbus.ReplyException re) return re.failureCode();
        return 500;
    }

    static String messageOf(Throwable t) {
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    static String abbreviate(String s, int max) {
        if (s == null) return null;
        return s.length() <= max ? s : s.substring(0, max - 3) + "...";
    }

    public static final class UnknownTaskException extends IllegalArgumentException {
        public UnknownTaskException(String id) {
            super("unknown task '" + id + "'; list_tasks shows the known tasks");
        }
    }
}
