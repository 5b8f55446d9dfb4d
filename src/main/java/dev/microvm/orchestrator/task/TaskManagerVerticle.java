package dev.microvm.orchestrator.task;

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
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Entry point for task requests on a node: submits, cancels, merges and cleans up tasks (reads go
 * to {@link TaskQueries}); asks the {@link TaskPlacement} where a new task runs and deploys one
 * {@link TaskVerticle} per task this process owns; on start (and periodically) adopts unfinished
 * tasks nobody owns ({@link TaskRecovery}).
 */
public final class TaskManagerVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(TaskManagerVerticle.class);
    private static final long ADOPT_INTERVAL_MS = 5_000;
    /** How long a submit without a deadline of its own may take to be recorded. */
    private static final long OWN_DEADLINE_MS = 25_000;
    /** How long after its deadline a record write may still be answered (a write the worker began in time). */
    private static final long PERSIST_GRACE_MS = 10_000;

    /** What this process does with a task id it knows. */
    private enum Tracked { PLACING, REMOTE, LOCAL, REFUSED }

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final RepoRegistry repos;
    private final Clock clock;
    private final String nodeId;
    private final TaskPlacement placement;
    private final TaskIntake intake;
    private final Map<String, Tracked> tracked = new HashMap<>();
    private TaskQueries queries;
    private TaskRecovery recovery;
    private long adoptTimer = -1;
    private final Supplier<DriverFingerprint> driver;

    /** @param driver this node's driver as last checked: its network policies, and whether it takes tasks at all */
    public TaskManagerVerticle(StatePaths paths, OrchestratorConfig config, TaskStore store, RepoRegistry repos,
                               EventSink events, Clock clock, String nodeId, Supplier<DriverFingerprint> driver,
                               TaskPlacement placement) {
        this.driver = driver;
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.repos = repos;
        this.clock = clock;
        this.nodeId = nodeId;
        this.placement = placement;
        this.intake = new TaskIntake(config, repos, clock, nodeId, driver);
    }

    @Override
    public Future<?> start() {
        queries = new TaskQueries(vertx, paths, config, store);
        recovery = new TaskRecovery(vertx, store, placement, nodeId, tracked::containsKey,
                r -> deploy(r, true), id -> tracked.put(id, Tracked.REMOTE));
        var bus = vertx.eventBus();
        // local: in a cluster every host has its own task manager; a clustered consumer would round-robin requests across hosts
        List<Future<?>> regs = List.of(
                bus.<JsonObject>localConsumer(Addresses.TASK_SUBMIT, m -> handle(m, this::submit)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CONTINUE, m -> handle(m, this::continueTask)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_GET, m -> handle(m, queries::get)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_LIST, m -> handle(m, queries::list)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_LOGS, m -> handle(m, queries::logs)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_DIFF, m -> handle(m, queries::diff)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CANCEL, m -> handle(m, this::cancel)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_MERGE, m -> handle(m, this::merge)).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_CLEANUP, m -> handle(m, this::cleanup)).completion(),
                bus.<JsonObject>localConsumer(Addresses.REPO_LIST, m -> handle(m, b -> blocking(this::repoList))).completion(),
                bus.<JsonObject>localConsumer(Addresses.NODE_LIST, m -> handle(m, b -> nodeList())).completion(),
                bus.<JsonObject>localConsumer(Addresses.TASK_FINISHED_LOCAL, m -> tracked.remove(m.body().getString("task_id"))).completion());
        return Future.all(regs).compose(v -> recovery.sweep()).onSuccess(v ->
                adoptTimer = vertx.setPeriodic(ADOPT_INTERVAL_MS, id -> recovery.sweep()));
    }

    @Override
    public Future<?> stop() {
        if (adoptTimer >= 0) vertx.cancelTimer(adoptTimer);
        return Future.succeededFuture();
    }

    // ---------------------------------------------------------------- intake

    private Future<JsonObject> submit(JsonObject b) {
        JsonObject requested = TaskIntake.requestedOptions(b);
        Long acceptBefore = b.getLong("accept_before");
        return blocking(() -> {
            TaskRecord record = intake.record(b, requested);
            return Map.entry(record, TaskIntake.staysHere(paths, record.repo()));
        }).compose(e -> checkEnvironment(e.getKey(), acceptBefore).map(e))
                .compose(e -> e.getValue() ? enqueue(e.getKey(), acceptBefore) : placeOrEnqueue(e.getKey(), acceptBefore));
    }

    /**
     * A task whose environment prepare would refuse (a malformed {@code .microvm/environment.json},
     * a secret the host has not granted) is refused here, before any record or event exists. The
     * file is read on the worker pool of this host, which holds the repository, before any
     * placement; prepare checks again, since the user's branch may move in between.
     */
    private Future<Void> checkEnvironment(TaskRecord record, Long acceptBefore) {
        long deadline = acceptBefore != null ? acceptBefore : clock.millis() + OWN_DEADLINE_MS;
        TaskFailure late = expired("the repository's environment could not be checked before the request's deadline; no task was created");
        if (clock.millis() >= deadline) return Future.failedFuture(late);
        DeliveryOptions patience = new DeliveryOptions().setSendTimeout(deadline - clock.millis());
        return vertx.eventBus().request(Addresses.WORKER_ENVIRONMENT, new JsonObject().put("record", record.toJson()), patience)
                .transform(ar -> ar.succeeded() ? Future.<Void>succeededFuture()
                        : Future.failedFuture(ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.TIMEOUT ? late : ar.cause()));
    }

    private Future<JsonObject> continueTask(JsonObject b) {
        String parentId = TaskIds.require(b.getString("task_id"));
        String prompt = b.getString("prompt");
        if (prompt == null || prompt.isBlank()) return Future.failedFuture(new IllegalArgumentException("prompt is required: say what the follow-up run should do"));
        return queries.load(parentId).compose(parent -> submit(TaskIntake.continuation(parent, b)));
    }

    /**
     * The placement decides where the task runs: another host (it answers with the task's home
     * record and keeps it up to date) or here. The id stays out of the adoption sweep meanwhile.
     */
    private Future<JsonObject> placeOrEnqueue(TaskRecord record, Long acceptBefore) {
        if (acceptBefore != null && clock.millis() > acceptBefore) {
            return Future.failedFuture(expired("the request arrived after its sender stopped waiting; no task was created"));
        }
        tracked.put(record.id(), Tracked.PLACING);
        return placement.place(record).transform(ar -> {
            if (ar.succeeded() && ar.result().isPresent()) {
                tracked.put(record.id(), Tracked.REMOTE);
                return Future.succeededFuture(ar.result().get().toJson());
            }
            tracked.remove(record.id());
            if (ar.failed()) LOG.warn("placement failed for task {} ({}); it runs here", record.id(), ar.cause().getMessage());
            return enqueue(record, acceptBefore);
        });
    }

    /**
     * Accepting a task: its record is written and forced to disk before the reply. The write carries
     * a deadline (the sender's {@code acceptBefore}, epoch milliseconds, or one of our own) after
     * which the worker refuses it, so a caller that saw a timeout never finds a task it was told
     * nothing about. A write whose answer is lost is checked on disk: a record found there is
     * closed as FAILED ({@code request_expired}) before the refusal, so adoption never runs it.
     */
    private Future<JsonObject> enqueue(TaskRecord record, Long acceptBefore) {
        java.util.Optional<String> unhealthy = driver.get().refusal();
        if (unhealthy.isPresent()) return Future.failedFuture(new TaskFailure(FailureReason.DRIVER_UNHEALTHY, unhealthy.get()));
        long deadline = acceptBefore != null ? acceptBefore : clock.millis() + OWN_DEADLINE_MS;
        JsonObject event = new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", record.id())
                .put("data", new JsonObject().put("state", "queued").put("repo", record.repo()).put("caller", record.caller())
                        .put("description", TaskQueries.abbreviate(record.description(), 200)));
        JsonObject persist = new JsonObject().put("record", record.toJson()).put("event", event).put("accept_before", deadline);
        DeliveryOptions patience = new DeliveryOptions().setSendTimeout(Math.max(0, deadline - clock.millis()) + PERSIST_GRACE_MS);
        tracked.put(record.id(), Tracked.PLACING); // out of the sweep until recorded and deployed
        return vertx.eventBus().<JsonObject>request(Addresses.WORKER_OWN, new JsonObject().put("task_id", record.id()))
                .compose(owned -> owned.body().getBoolean("owned", false) ? Future.succeededFuture()
                        : Future.failedFuture(new IllegalStateException("task id " + record.id() + " is owned by another process")))
                .compose(v -> vertx.eventBus().request(Addresses.WORKER_PERSIST, persist, patience)
                        .recover(e -> withdraw(record).transform(x -> Future.failedFuture(e))))
                .compose(v -> {
                    // recorded: accepted. A failed deployment is left to the adoption sweep, it does not undo the task.
                    deploy(record, false).onFailure(e -> LOG.warn("task {} is recorded but could not start here yet: {}", record.id(), e.getMessage()));
                    return Future.succeededFuture(record.toJson());
                }, e -> {
                    if (tracked.get(record.id()) == Tracked.PLACING) tracked.remove(record.id());
                    return Future.failedFuture(e);
                });
    }

    /**
     * After a failed record write: makes sure no runnable record is left. One found on disk (the
     * write landed, its answer did not) is closed as FAILED; then the task is disowned. If even
     * that cannot be written the id stays owned and tracked by this process, so nobody runs it here.
     */
    private Future<Void> withdraw(TaskRecord record) {
        return blocking(() -> store.load(record.id()).orElse(null)).compose(found -> {
            if (found == null || found.state().isTerminal()) return Future.succeededFuture();
            TaskRecord closed = found.moveTo(TaskState.FAILED, clock.instant().toString())
                    .withFailure(FailureReason.REQUEST_EXPIRED, "the request timed out before the task was accepted; it never ran");
            return vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("record", closed.toJson())).<Void>mapEmpty();
        }).compose(v -> vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", record.id())).<Void>mapEmpty(), e -> {
            LOG.error("task {}: its refused record could not be closed ({}); this process keeps it from running", record.id(), e.getMessage());
            tracked.put(record.id(), Tracked.REFUSED);
            return Future.succeededFuture();
        });
    }

    private static TaskFailure expired(String message) {
        return new TaskFailure(FailureReason.REQUEST_EXPIRED, message);
    }

    private Future<Void> deploy(TaskRecord record, boolean recovering) {
        TaskVerticle.TaskPolicy policy = new TaskVerticle.TaskPolicy(config.taskTimeoutSeconds(), config.stopGraceSeconds(),
                config.defaultMergeStrategy(), "file".equals(config.credentialMode()));
        tracked.put(record.id(), Tracked.LOCAL);
        return vertx.deployVerticle(new TaskVerticle(record, recovering, policy, clock), new DeploymentOptions())
                .onFailure(e -> tracked.remove(record.id()))
                .mapEmpty();
    }

    // ---------------------------------------------------------------- changes to finished or running tasks

    private Future<JsonObject> cancel(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return queries.load(id).compose(r -> {
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
        return queries.load(id).compose(r -> {
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
        return queries.load(id).compose(r -> {
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
                .put("owned_tasks", tracked.size()).put("state", "up")
                .put("healthy", driver.get().healthy()).put("fingerprint", driver.get().toJson()))));
    }

    // ---------------------------------------------------------------- plumbing

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }

    private void handle(Message<JsonObject> msg, Function<JsonObject, Future<JsonObject>> op) {
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
        if (t instanceof TaskFailure f) return f.reason().code();
        if (t instanceof UnknownTaskException || t instanceof RepoRegistry.UnknownRepoException) return 404;
        if (t instanceof IllegalArgumentException) return 400;
        if (t instanceof ReplyException re) return re.failureCode();
        return 500;
    }

    static String messageOf(Throwable t) {
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    public static final class UnknownTaskException extends IllegalArgumentException {
        public UnknownTaskException(String id) {
            super("unknown task '" + id + "'; list_tasks shows the known tasks");
        }
    }
}
