package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The home side of tasks that run on other hosts. The home host stays the single source of truth
 * for a task: its record and events live here, whatever host runs the VM.
 *
 * <ul>
 *   <li>{@link Addresses#CLUSTER_PLACE} (asked by {@link ClusterPlacement}): where a new task runs.
 *       Placements are decided one at a time and count tasks placed but not yet started, so a burst
 *       of submissions spreads instead of piling onto the host that looked free first.</li>
 *   <li>A task placed elsewhere: its base commit and the objects the other host lacks are shipped
 *       ({@link Addresses#CLUSTER_EXECUTE}); its record here names that host ({@link RemoteRecords}).</li>
 *   <li>{@link Addresses#CLUSTER_TASK_EVENT}: the other host's events for it ({@link RemoteEvents}).</li>
 *   <li>{@link Addresses#CLUSTER_FOLLOW}: after a restart of this host, its unfinished remote tasks
 *       are followed again and their hosts asked after them.</li>
 *   <li>When the membership drops a host, its running tasks fail as {@code node_lost} at once and
 *       its not-yet-started ones come back to this host's queue.</li>
 * </ul>
 */
public final class RemoteTasksVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(RemoteTasksVerticle.class);
    private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true).setSendTimeout(30_000);
    /** How long a restarted home host waits for the host of a followed task to (re)join. */
    static final long FOLLOW_GRACE_MS = 30_000;

    private final String self;
    private final Members membership;
    private final Path cacheRoot;
    private final long maxBundleBytes;
    private final String defaultMergeStrategy;
    private final TaskStore store;
    private final StatePaths paths;
    private NodeRequests requests;
    private RemoteRecords records;
    private RemoteEvents events;
    /** tasks placed on this host whose VM has not started yet: the slot allocator may not know them */
    private final Set<String> placedHere = new HashSet<>();
    private Future<?> placing = Future.succeededFuture();

    public RemoteTasksVerticle(String self, Members membership, TaskStore store, Path stateRoot, long maxBundleBytes,
                               String defaultMergeStrategy) {
        this.self = self;
        this.store = store;
        this.paths = new StatePaths(stateRoot);
        this.membership = membership;
        this.cacheRoot = RemoteExecutionVerticle.cacheRoot(stateRoot);
        this.maxBundleBytes = maxBundleBytes;
        this.defaultMergeStrategy = defaultMergeStrategy;
    }

    @Override
    public Future<?> start() {
        requests = new NodeRequests(vertx, membership::members);
        records = new RemoteRecords(vertx, self);
        events = new RemoteEvents(vertx, records, new ReturnedWork(paths, cacheRoot, maxBundleBytes), store, defaultMergeStrategy);
        membership.onLeft(node -> context.runOnContext(v -> nodeLeft(node)));
        membership.onJoined(node -> context.runOnContext(v -> records.on(node).stream().filter(r -> r.followed).forEach(this::askAfter)));
        var bus = vertx.eventBus();
        return Future.all(List.of(
                bus.<JsonObject>localConsumer(Addresses.CLUSTER_FOLLOW, Replies.to(this::follow)).completion(),
                bus.<JsonObject>localConsumer(Addresses.CLUSTER_PLACE, Replies.to(body -> {
                    Future<JsonObject> f = placing.transform(x -> place(body));
                    placing = f;
                    return f;
                })).completion(),
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, self), Replies.to(events::receive)).completion(),
                bus.<JsonObject>localConsumer(Addresses.EVENTS, m -> {
                    JsonObject data = m.body().getJsonObject("data", new JsonObject());
                    if (EventTypes.TASK_STATE.equals(m.body().getString("type")) && !"queued".equals(data.getString("state"))) {
                        placedHere.remove(m.body().getString("task_id"));
                    }
                }).completion()));
    }

    // ---------------------------------------------------------------- placement

    private Future<JsonObject> place(JsonObject body) {
        TaskRecord r = TaskRecord.fromJson(body.getJsonObject("record"));
        if (!shippable(r)) return here(r);
        return vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_NODES, new JsonObject(), LOCAL).compose(reply -> {
            List<Placement.HostLoad> loads = new ArrayList<>();
            for (Object o : reply.body().getJsonArray("nodes")) {
                JsonObject n = (JsonObject) o;
                if (!"up".equals(n.getString("state"))) continue;
                String node = n.getString("node");
                int notStarted = node.equals(self) ? placedHere.size() : records.notStartedOn(node);
                loads.add(Placement.HostLoad.of(n, notStarted));
            }
            String target = Placement.choose(self, loads).orElse(self);
            if (target.equals(self)) return here(r);
            return ship(r, target).recover(e -> {
                LOG.warn("could not ship task {} to {} ({}); it runs here", r.id(), target, e.getMessage());
                return here(r);
            });
        });
    }

    private Future<JsonObject> here(TaskRecord r) {
        placedHere.add(r.id());
        return Future.succeededFuture(new JsonObject().put("node", self));
    }

    /** Tasks that need the user's work tree (uncommitted changes, untracked files) run at home; so do shadows. */
    private boolean shippable(TaskRecord r) {
        return !r.options().includeUncommitted() && r.options().untrackedPatterns().isEmpty()
                && r.parentTaskId() == null && !Path.of(r.repoPath()).toAbsolutePath().normalize().startsWith(cacheRoot.toAbsolutePath().normalize());
    }

    /** Sends the base and the objects {@code target} lacks; the record is persisted (queued, on target) before the reply. */
    private Future<JsonObject> ship(TaskRecord r, String target) {
        Path repo = Path.of(r.repoPath());
        return blocking(() -> HomeBase.resolve(repo, r.options().baseRef()))
                .compose(base -> requests.request(target, Addresses.onNode(Addresses.CLUSTER_HAVES, target),
                                new JsonObject().put("home", self).put("alias", r.repo()), 30_000)
                        .compose(haves -> blocking(() -> HomeBase.shipment(repo, base.commit(), haves.getJsonArray("haves").getList(), maxBundleBytes)))
                        .compose(bundle -> {
                            TaskRecord placed = r.withNode(target).withPrepared(new JsonObject().put("base_commit", base.commit())
                                    .put("base_branch", base.branch()).put("agent_base_commit", base.commit()).put("method", ClusterPlacement.SHIPPED));
                            RemoteTask task = new RemoteTask(target, placed);
                            return records.placed(task, abbreviate(r.description())).map(v -> {
                                listenForControl(task);
                                execute(task, bundle);
                                return new JsonObject().put("record", placed.toJson());
                            });
                        }));
    }

    private void execute(RemoteTask task, byte[] bundle) {
        TaskRecord r = task.record;
        JsonObject body = new JsonObject().put("home", self).put("home_task_id", r.id()).put("alias", r.repo())
                .put("description", r.description()).put("caller", r.caller()).put("options", r.options().toJson())
                .put("base_commit", r.prepared().getString("base_commit")).put("bundle", bundle);
        requests.request(task.node, Addresses.onNode(Addresses.CLUSTER_EXECUTE, task.node), body, 120_000)
                .onSuccess(reply -> LOG.info("task {} runs on {} as {}", r.id(), task.node, reply.getString("task_id")))
                .onFailure(e -> {
                    if (!records.isCurrent(task)) return; // already handled (node left)
                    task.inOrder(() -> records.finish(task, TaskState.FAILED, "placement_failed",
                            "host " + task.node + " did not take the task: " + e.getMessage(), new JsonObject()));
                });
    }

    // ---------------------------------------------------------------- after a restart of this host

    /**
     * An unfinished task this host had placed elsewhere before it restarted: its record names the
     * executing host. It is followed again rather than adopted as a local task; its host is asked
     * after it (and re-sends its result if it finished meanwhile).
     */
    private Future<JsonObject> follow(JsonObject body) {
        TaskRecord r = TaskRecord.fromJson(body.getJsonObject("record"));
        if (records.get(r.id()) != null) return Future.succeededFuture(new JsonObject());
        if (!ClusterPlacement.followable(r, self)) {
            return Future.failedFuture(new IllegalArgumentException("task " + r.id() + " is not placed on another host"));
        }
        RemoteTask task = new RemoteTask(r.node(), r);
        task.started = r.state() != TaskState.QUEUED;
        task.followed = true;
        records.add(task);
        listenForControl(task);
        LOG.info("following task {} on {} again ({})", r.id(), r.node(), r.state().wireName());
        if (membership.members().contains(task.node)) {
            askAfter(task);
        } else {
            // the membership may still be forming after the restart; a host still missing then is lost
            vertx.setTimer(FOLLOW_GRACE_MS, t -> {
                if (records.isCurrent(task) && !membership.members().contains(task.node)) lost(task, "did not rejoin the cluster");
            });
        }
        return Future.succeededFuture(new JsonObject());
    }

    private void askAfter(RemoteTask task) {
        String id = task.id();
        requests.request(task.node, Addresses.onNode(Addresses.CLUSTER_RESEND, task.node),
                        new JsonObject().put("home", self).put("home_task_id", id), 30_000)
                .onSuccess(reply -> {
                    LOG.info("host {} says task {} is {}", task.node, id, reply.getString("state"));
                    if ("unknown".equals(reply.getString("state")) && records.isCurrent(task)) lost(task, "has no record of it");
                })
                .onFailure(e -> LOG.warn("could not ask {} after task {}: {}", task.node, id, e.getMessage()));
    }

    /** A followed task whose host is gone or forgot it: re-queued here if it never started, else failed. */
    private void lost(RemoteTask task, String why) {
        if (!task.started) {
            requeueHere(task);
            return;
        }
        task.inOrder(() -> records.finish(task, TaskState.FAILED, NodeRequests.NODE_LOST,
                "host " + task.node + " " + why + " after this host restarted; the task's work there is lost", new JsonObject()));
    }

    // ---------------------------------------------------------------- control

    /** Cancel requests reach a remote task where a local task's verticle would listen. */
    private void listenForControl(RemoteTask task) {
        task.control = vertx.eventBus().localConsumer(Addresses.TASK_CONTROL_PREFIX + task.id(), Replies.to(body -> cancel(task, body)));
    }

    private Future<JsonObject> cancel(RemoteTask task, JsonObject body) {
        if (!"cancel".equals(body.getString("op"))) return Future.failedFuture(new IllegalArgumentException("unknown task control op"));
        return requests.request(task.node, Addresses.onNode(Addresses.CLUSTER_CANCEL, task.node),
                new JsonObject().put("home_task_id", task.id()), 15_000)
                .map(x -> task.record.toJson().put("note", "cancel sent to " + task.node));
    }

    // ---------------------------------------------------------------- node loss

    private void nodeLeft(String node) {
        // its tasks first: failing the requests in flight would otherwise report an unstarted one as placement_failed
        for (RemoteTask task : records.on(node)) {
            if (!task.started) {
                requeueHere(task);
                continue;
            }
            LOG.warn("host {} left the cluster while running task {}", node, task.id());
            task.inOrder(() -> records.finish(task, TaskState.FAILED, NodeRequests.NODE_LOST,
                    "host " + node + " left the cluster while running this task; its work there is lost unless the host returns", new JsonObject()));
        }
        requests.nodeLeft(node);
    }

    /** A task the lost host had not started goes back to this host's queue: the task manager adopts it. */
    private void requeueHere(RemoteTask task) {
        LOG.info("host {} left before starting task {}; it is queued here", task.node, task.id());
        placedHere.add(task.id());
        records.requeueHere(task);
    }

    // ---------------------------------------------------------------- plumbing

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }

    private static String abbreviate(String s) {
        return s == null || s.length() <= 200 ? s : s.substring(0, 197) + "...";
    }
}
