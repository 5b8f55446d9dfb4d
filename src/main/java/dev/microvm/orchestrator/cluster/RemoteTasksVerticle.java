package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.git.BundleImporter;
import dev.microvm.orchestrator.git.ImportResult;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The home side of tasks that run on other hosts. The home host stays the single source of truth
 * for a task: its record and events live here, whatever host runs the VM.
 *
 * <ul>
 *   <li>{@link Addresses#CLUSTER_PLACE}: the task manager asks where a new task runs. Placements are
 *       decided one at a time and count tasks placed but not yet started, so a burst of submissions
 *       spreads instead of piling onto the host that looked free first.</li>
 *   <li>A task placed elsewhere: its base commit and the objects the other host lacks are shipped
 *       ({@link Addresses#CLUSTER_EXECUTE}); its record here names that host.</li>
 *   <li>{@link Addresses#CLUSTER_TASK_EVENT}: the other host's events for it are mirrored into this
 *       host's record and event log; its final state brings the commits, saved on
 *       {@code refs/tasks/<id>} and merged here like a local task's.</li>
 *   <li>When the membership drops a host, its running tasks fail as {@code node_lost} at once and
 *       its not-yet-started ones come back to this host's queue.</li>
 * </ul>
 */
public final class RemoteTasksVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(RemoteTasksVerticle.class);
    private static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true).setSendTimeout(30_000);
    private static final DeliveryOptions LONG = new DeliveryOptions().setLocalOnly(true).setSendTimeout(10 * 60_000);
    /** How long a restarted home host waits for the host of a followed task to (re)join. */
    static final long FOLLOW_GRACE_MS = 30_000;

    private final String self;
    private final ClusterMembership membership;
    private final Path cacheRoot;
    private final long maxBundleBytes;
    private final String defaultMergeStrategy;
    private final TaskStore store;
    private final StatePaths paths;
    private NodeRequests requests;
    private final Map<String, Remote> remotes = new HashMap<>();
    /** tasks placed on this host whose VM has not started yet: the slot allocator may not know them */
    private final Set<String> placedHere = new HashSet<>();
    private Future<?> placing = Future.succeededFuture();

    private static final class Remote {
        final String node;
        TaskRecord record;
        boolean started;
        /** picked up again after this host restarted; its host is asked after it */
        boolean followed;
        MessageConsumer<JsonObject> control;
        Future<?> mirrored = Future.succeededFuture();

        Remote(String node, TaskRecord record) {
            this.node = node;
            this.record = record;
        }
    }

    public RemoteTasksVerticle(String self, ClusterMembership membership, TaskStore store, Path stateRoot, long maxBundleBytes,
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
        membership.onLeft(node -> context.runOnContext(v -> nodeLeft(node)));
        membership.onJoined(node -> context.runOnContext(v -> remotes.values().stream()
                .filter(r -> r.node.equals(node) && r.followed).toList().forEach(this::askAfter)));
        var bus = vertx.eventBus();
        return Future.all(List.of(
                bus.<JsonObject>localConsumer(Addresses.CLUSTER_FOLLOW, m -> reply(m, follow(m.body()))).completion(),
                bus.<JsonObject>localConsumer(Addresses.CLUSTER_PLACE, m -> {
                    Future<JsonObject> f = placing.transform(x -> place(m.body()));
                    placing = f;
                    reply(m, f);
                }).completion(),
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, self), m -> {
                    Remote r = remotes.get(m.body().getString("home_task_id", ""));
                    if (r == null) {
                        reply(m, lateWork(m.body()));
                        return;
                    }
                    Future<JsonObject> f = r.mirrored.transform(x -> mirror(r, m.body()));
                    r.mirrored = f;
                    reply(m, f);
                }).completion(),
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
                int notStarted = node.equals(self) ? placedHere.size()
                        : (int) remotes.values().stream().filter(x -> x.node.equals(node) && !x.started).count();
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
                                    .put("base_branch", base.branch()).put("agent_base_commit", base.commit()).put("method", "shipped"));
                            Remote remote = new Remote(target, placed);
                            remotes.put(r.id(), remote);
                            JsonObject event = new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", r.id())
                                    .put("data", new JsonObject().put("state", "queued").put("repo", r.repo()).put("caller", r.caller())
                                            .put("node", target).put("description", abbreviate(r.description())));
                            return persist(placed, event).compose(v -> {
                                remote.control = vertx.eventBus().localConsumer(Addresses.TASK_CONTROL_PREFIX + r.id(), m -> reply(m, cancel(remote, m.body())));
                                execute(remote, bundle);
                                return Future.succeededFuture(new JsonObject().put("record", placed.toJson()));
                            }).onFailure(e -> remotes.remove(r.id()));
                        }));
    }

    private void execute(Remote remote, byte[] bundle) {
        TaskRecord r = remote.record;
        JsonObject body = new JsonObject().put("home", self).put("home_task_id", r.id()).put("alias", r.repo())
                .put("description", r.description()).put("caller", r.caller()).put("options", r.options().toJson())
                .put("base_commit", r.prepared().getString("base_commit")).put("bundle", bundle);
        requests.request(remote.node, Addresses.onNode(Addresses.CLUSTER_EXECUTE, remote.node), body, 120_000)
                .onSuccess(reply -> LOG.info("task {} runs on {} as {}", r.id(), remote.node, reply.getString("task_id")))
                .onFailure(e -> {
                    if (remotes.get(r.id()) != remote) return; // already handled (node left)
                    remote.mirrored = remote.mirrored.transform(x -> finishRemote(remote, TaskState.FAILED, "placement_failed",
                            "host " + remote.node + " did not take the task: " + e.getMessage(), new JsonObject()));
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
        if (remotes.containsKey(r.id())) return Future.succeededFuture(new JsonObject());
        if (r.node() == null || r.node().equals(self) || r.prepared() == null) {
            return Future.failedFuture(new IllegalArgumentException("task " + r.id() + " is not placed on another host"));
        }
        Remote remote = new Remote(r.node(), r);
        remote.started = r.state() != TaskState.QUEUED;
        remote.followed = true;
        remotes.put(r.id(), remote);
        remote.control = vertx.eventBus().localConsumer(Addresses.TASK_CONTROL_PREFIX + r.id(), m -> reply(m, cancel(remote, m.body())));
        LOG.info("following task {} on {} again ({})", r.id(), r.node(), r.state().wireName());
        if (membership.members().contains(remote.node)) {
            askAfter(remote);
        } else {
            // the membership may still be forming after the restart; a host still missing then is lost
            vertx.setTimer(FOLLOW_GRACE_MS, t -> {
                if (remotes.get(r.id()) == remote && !membership.members().contains(remote.node)) lost(remote, "did not rejoin the cluster");
            });
        }
        return Future.succeededFuture(new JsonObject());
    }

    private void askAfter(Remote remote) {
        String id = remote.record.id();
        requests.request(remote.node, Addresses.onNode(Addresses.CLUSTER_RESEND, remote.node),
                        new JsonObject().put("home", self).put("home_task_id", id), 30_000)
                .onSuccess(reply -> {
                    LOG.info("host {} says task {} is {}", remote.node, id, reply.getString("state"));
                    if ("unknown".equals(reply.getString("state")) && remotes.get(id) == remote) lost(remote, "has no record of it");
                })
                .onFailure(e -> LOG.warn("could not ask {} after task {}: {}", remote.node, id, e.getMessage()));
    }

    /** A followed task whose host is gone or forgot it: re-queued here if it never started, else failed. */
    private void lost(Remote remote, String why) {
        if (!remote.started) {
            requeueHere(remote);
            return;
        }
        remote.mirrored = remote.mirrored.transform(x -> finishRemote(remote, TaskState.FAILED, NodeRequests.NODE_LOST,
                "host " + remote.node + " " + why + " after this host restarted; the task's work there is lost", new JsonObject()));
    }

    // ---------------------------------------------------------------- control

    private Future<JsonObject> cancel(Remote remote, JsonObject body) {
        if (!"cancel".equals(body.getString("op"))) return Future.failedFuture(new IllegalArgumentException("unknown task control op"));
        return requests.request(remote.node, Addresses.onNode(Addresses.CLUSTER_CANCEL, remote.node),
                new JsonObject().put("home_task_id", remote.record.id()), 15_000)
                .map(x -> remote.record.toJson().put("note", "cancel sent to " + remote.node));
    }

    // ---------------------------------------------------------------- mirroring

    private Future<JsonObject> mirror(Remote remote, JsonObject msg) {
        if (remotes.get(remote.record.id()) != remote) return Future.succeededFuture(new JsonObject().put("ignored", "task already finished here"));
        String type = msg.getString("type");
        JsonObject data = msg.getJsonObject("data", new JsonObject());
        String id = remote.record.id();
        if (!EventTypes.TASK_STATE.equals(type)) {
            // logs, progress, usage: the same event, under the home task's id; console lines also
            // go to the home copy of the console log, which get_task_logs reads
            Future<Void> copied = EventTypes.TASK_LOG.equals(type) ? blocking(() -> appendConsole(id, data)) : Future.succeededFuture();
            return copied.compose(v -> persist(null, new JsonObject().put("type", type).put("task_id", id).put("data", data)))
                    .map(new JsonObject());
        }
        TaskState state = TaskState.fromWire(data.getString("state"));
        if (state == TaskState.QUEUED) return Future.succeededFuture(new JsonObject());
        if (!state.isTerminal()) {
            if (state == TaskState.STARTING) remote.started = true;
            return moveTo(remote, state, r -> r, new JsonObject().put("remote_slot", data.getValue("slot"))).map(new JsonObject());
        }
        remote.started = true;
        JsonObject outcome = new JsonObject().put("exit_code", data.getValue("exit_code")).put("result", data.getValue("result"))
                .put("agent_error", "agent_failed".equals(data.getString("reason")) ? data.getString("error") : null);
        byte[] bundle = msg.getBinary("bundle");
        Future<Void> logSaved = blocking(() -> saveAgentLog(id, remote.node, msg));
        // the reply tells the executing host whether this host now holds the agent's commits; only
        // then does it drop its own copy (RemoteExecutionVerticle)
        return logSaved.transform(x -> saveCommits(remote, bundle)).transform(saved -> {
            if (saved.failed()) {
                return finishRemote(remote, TaskState.FAILED, "result_rejected", "the commits sent back by " + remote.node
                        + " were refused: " + saved.cause().getMessage(), outcome).map(new JsonObject().put("commits_kept", false));
            }
            Future<Void> done;
            if (state != TaskState.COMPLETED) {
                String error = data.getString("error", "the task " + state.wireName() + " on " + remote.node);
                if (saved.result() > 0) error += "; its commits are saved on refs/tasks/" + id;
                done = finishRemote(remote, state, data.getString("reason", state.wireName()), error, outcome);
            } else {
                done = mergeHere(remote, outcome);
            }
            return done.map(new JsonObject().put("commits_kept", true));
        });
    }

    /** Saves the returned commits on refs/tasks/&lt;id&gt; of the user's repository; returns how many. */
    private Future<Integer> saveCommits(Remote remote, byte[] bundle) {
        if (bundle == null) return Future.succeededFuture(0);
        TaskRecord r = remote.record;
        return blocking(() -> {
            Path dir = Files.createDirectories(cacheRoot.resolve(".returned"));
            Path file = Files.createTempFile(dir, r.id() + "-", ".bundle");
            try {
                Files.write(file, bundle);
                ImportResult imported = new BundleImporter().importBundle(Path.of(r.repoPath()), file, r.id(),
                        r.prepared().getString("agent_base_commit"), maxBundleBytes);
                return imported.commitCount();
            } finally {
                Files.deleteIfExists(file);
            }
        });
    }

    private Future<Void> mergeHere(Remote remote, JsonObject outcome) {
        TaskRecord r = remote.record;
        String strategy = r.options().mergeStrategy() != null ? r.options().mergeStrategy() : defaultMergeStrategy;
        Future<Void> merging = r.state() == TaskState.MERGING ? Future.succeededFuture() : moveTo(remote, TaskState.MERGING, x -> x, null);
        return merging.compose(v -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_MERGE,
                        new JsonObject().put("task_id", r.id()).put("strategy", strategy), LONG))
                .map(Message::body)
                .compose(merge -> {
                    Integer exit = outcome.getInteger("exit_code");
                    boolean agentOk = exit == null || exit == 0;
                    boolean mergeOk = merge.getBoolean("merged", false) || !"auto".equals(strategy) || merge.getInteger("commits", 0) == 0;
                    JsonObject done = outcome.copy().put("merge_result", merge);
                    if (agentOk && mergeOk) return finishRemote(remote, TaskState.COMPLETED, null, null, done);
                    String reason = !agentOk ? "agent_failed" : merge.getString("reason", "merge_failed");
                    return finishRemote(remote, TaskState.FAILED, reason, !agentOk ? (outcome.getString("agent_error") != null ? outcome.getString("agent_error") : "the agent exited with code " + exit)
                            : "merge did not complete (" + reason + "); commits are kept on refs/tasks/" + r.id(), done);
                }, e -> finishRemote(remote, TaskState.FAILED, "merge_failed", e.getMessage(), outcome));
    }

    private Future<Void> finishRemote(Remote remote, TaskState state, String reason, String error, JsonObject outcome) {
        if (remotes.get(remote.record.id()) != remote || remote.record.state().isTerminal()) return Future.succeededFuture();
        remotes.remove(remote.record.id());
        if (remote.control != null) remote.control.unregister();
        return moveTo(remote, state, r -> {
            TaskRecord x = r.withExitCode(outcome.getInteger("exit_code")).withResult(outcome.getJsonObject("result"));
            if (outcome.getJsonObject("merge_result") != null) x = x.withMergeResult(outcome.getJsonObject("merge_result"));
            if (reason != null) x = x.withFailure(reason, error);
            return x;
        }, null).onComplete(v -> vertx.eventBus().publish(Addresses.TASK_FINISHED_LOCAL,
                new JsonObject().put("task_id", remote.record.id()), EventSink.LOCAL));
    }

    private Future<Void> moveTo(Remote remote, TaskState next, java.util.function.UnaryOperator<TaskRecord> change, JsonObject extra) {
        TaskRecord before = remote.record;
        if (!before.state().canMoveTo(next)) {
            // the other host may skip a state this record never saw (queued → running after a restart there)
            if (before.state() == TaskState.QUEUED && next == TaskState.RUNNING) {
                return moveTo(remote, TaskState.STARTING, r -> r, null).compose(v -> moveTo(remote, next, change, extra));
            }
            if (before.state() == TaskState.QUEUED && next == TaskState.MERGING) {
                return moveTo(remote, TaskState.STARTING, r -> r, null).compose(v -> moveTo(remote, next, change, extra));
            }
            if (before.state() == TaskState.STARTING && next == TaskState.MERGING) {
                return moveTo(remote, TaskState.RUNNING, r -> r, null).compose(v -> moveTo(remote, next, change, extra));
            }
            return Future.succeededFuture();
        }
        TaskRecord updated = change.apply(before.moveTo(next, java.time.Instant.now().toString()));
        remote.record = updated;
        JsonObject data = new JsonObject().put("state", next.wireName()).put("previous", before.state().wireName())
                .put("repo", updated.repo()).put("caller", updated.caller()).put("node", remote.node);
        if (next.isTerminal()) {
            if (updated.reason() != null) data.put("reason", updated.reason()).put("error", updated.error());
            data.put("exit_code", updated.exitCode());
            if (updated.result() != null) data.put("result", updated.result());
            if (updated.mergeResult() != null) data.put("merge_result", updated.mergeResult());
        }
        if (extra != null) extra.forEach(e -> { if (e.getValue() != null) data.put(e.getKey(), e.getValue()); });
        return persist(updated, new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", updated.id()).put("data", data));
    }

    // ---------------------------------------------------------------- node loss

    /**
     * The final event of a task this host already reported node_lost: the host came back and the
     * agent's commits are saved on refs/tasks/&lt;id&gt;. The task is not reopened and nothing is merged.
     */
    private Future<JsonObject> lateWork(JsonObject msg) {
        String id = msg.getString("home_task_id", "");
        String node = msg.getString("node", "");
        byte[] bundle = msg.getBinary("bundle");
        JsonObject ignored = new JsonObject().put("ignored", "no such remote task here (finished or reported lost)");
        if (bundle == null || !EventTypes.TASK_STATE.equals(msg.getString("type"))) return Future.succeededFuture(ignored);
        JsonObject pending = new JsonObject().put("ignored", "this host does not follow the task yet").put("pending", true);
        return blocking(() -> {
            TaskRecord r = store.load(dev.microvm.orchestrator.task.TaskIds.require(id)).orElse(null);
            if (r != null && !r.state().isTerminal() && node.equals(r.node())) return Map.entry(false, r); // restarted: follow() asks again
            if (r == null || !r.state().isTerminal() || !node.equals(r.node()) || !NodeRequests.NODE_LOST.equals(r.reason())
                    || r.prepared() == null) return null;
            return Map.entry(true, r);
        }).compose(found -> {
            if (found == null) return Future.succeededFuture(ignored);
            if (!found.getKey()) return Future.succeededFuture(pending);
            TaskRecord r = found.getValue();
            Remote late = new Remote(node, r);
            return blocking(() -> saveAgentLog(id, node, msg)).transform(x -> saveCommits(late, bundle)).compose(commits -> {
                if (commits == 0) return Future.succeededFuture(new JsonObject().put("saved", 0).put("commits_kept", true));
                LOG.info("host {} came back with {} commit(s) of task {}; saved on refs/tasks/{}", node, commits, id, id);
                TaskRecord noted = r.withFailure(r.reason(), r.error() + "; the host came back later and its " + commits
                        + " commit(s) were saved on refs/tasks/" + id + " (not merged: merge_task merges them)");
                return persist(noted, null).map(new JsonObject().put("saved", commits).put("commits_kept", true));
            });
        });
    }

    private void nodeLeft(String node) {
        // its tasks first: failing the requests in flight would otherwise report an unstarted one as placement_failed
        for (Remote remote : List.copyOf(remotes.values())) {
            if (!remote.node.equals(node)) continue;
            if (!remote.started) {
                requeueHere(remote);
                continue;
            }
            LOG.warn("host {} left the cluster while running task {}", node, remote.record.id());
            remote.mirrored = remote.mirrored.transform(x -> finishRemote(remote, TaskState.FAILED, NodeRequests.NODE_LOST,
                    "host " + node + " left the cluster while running this task; its work there is lost unless the host returns", new JsonObject()));
        }
        requests.nodeLeft(node);
    }

    /** A task the lost host had not started goes back to this host's queue: the task manager adopts it. */
    private void requeueHere(Remote remote) {
        remotes.remove(remote.record.id());
        if (remote.control != null) remote.control.unregister();
        TaskRecord back = remote.record.withNode(self).withPrepared(null);
        remote.record = back;
        LOG.info("host {} left before starting task {}; it is queued here", remote.node, back.id());
        placedHere.add(back.id());
        persist(back, null).onComplete(v -> vertx.eventBus().publish(Addresses.TASK_FINISHED_LOCAL,
                new JsonObject().put("task_id", back.id()), EventSink.LOCAL));
    }

    // ---------------------------------------------------------------- plumbing

    /**
     * The end of the agent's log, shipped with a remote task's final event, becomes this task's
     * agent log (what get_task_logs stream=agent reads), marked when its beginning stayed behind.
     */
    private Void saveAgentLog(String id, String node, JsonObject msg) {
        byte[] log = msg.getBinary("agent_log");
        if (log == null) return null;
        long size = msg.getLong("agent_log_size", (long) log.length);
        try {
            Path out = Files.createDirectories(paths.taskIo(id).resolve(dev.microvm.orchestrator.vm.GuestContract.OUT_DIR));
            Path tmp = Files.createTempFile(out, "agent-", ".log");
            try (var w = Files.newOutputStream(tmp)) {
                if (size > log.length) {
                    w.write(("[the first " + (size - log.length) + " bytes of this log were not sent from host " + node + "]\n")
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                w.write(log);
            }
            Files.move(tmp, paths.taskIo(id).resolve(dev.microvm.orchestrator.vm.GuestContract.OUT_AGENT_LOG),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            LOG.warn("the agent log of task {} from host {} could not be saved: {}", id, node, e.getMessage());
        }
        return null;
    }

    private Void appendConsole(String id, JsonObject data) throws java.io.IOException {
        io.vertx.core.json.JsonArray lines = data.getJsonArray("lines");
        if (lines == null || lines.isEmpty()) return null;
        StringBuilder text = new StringBuilder();
        lines.forEach(l -> text.append(l).append('\n'));
        Path log = paths.taskConsoleLog(id);
        Files.createDirectories(log.getParent());
        Files.writeString(log, text, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        return null;
    }

    private Future<Void> persist(TaskRecord record, JsonObject event) {
        JsonObject req = new JsonObject();
        if (record != null) req.put("record", record.toJson());
        if (event != null) req.put("event", event);
        return vertx.eventBus().request(Addresses.WORKER_PERSIST, req, LOCAL).mapEmpty();
    }

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }

    private static String abbreviate(String s) {
        return s == null || s.length() <= 200 ? s : s.substring(0, 197) + "...";
    }

    private static void reply(Message<JsonObject> msg, Future<JsonObject> f) {
        f.onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result());
            else msg.fail(ar.cause() instanceof IllegalArgumentException ? 400 : 500,
                    ar.cause().getMessage() == null ? ar.cause().toString() : ar.cause().getMessage());
        });
    }
}
