package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The executing side of a shipped task. A home host sends the commits a task needs
 * ({@link Addresses#CLUSTER_EXECUTE}); they go into this host's {@link ObjectCache}, whose empty
 * work tree is registered as a local repository, and a <em>shadow</em> task runs on it here like any
 * local task, pinned to the shipped base commit and with merge strategy {@code none}. Its events go
 * back to the home host in order; its terminal state carries the agent's commits as a bundle, so
 * the home host saves and merges them into the user's repository.
 */
public final class RemoteExecutionVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(RemoteExecutionVerticle.class);
    static final String CACHE_DIR = "cluster-cache";
    private static final long EVENT_TIMEOUT_MS = 10 * 60_000;
    private static final long REDELIVER_EVERY_MS = 10_000;
    /** A home host that is back answers a result it already knows quickly; do not wait the full event timeout. */
    private static final long REDELIVERY_TIMEOUT_MS = 120_000;
    /** The most of a shadow task's agent log that travels home with its final event (its end). */
    static final int SHIPPED_AGENT_LOG_BYTES = 1 << 20;

    private final String self;
    private final ClusterMembership membership;
    private final RepoRegistry repos;
    private final ObjectCache cache;
    private final Path scratch;
    private final StatePaths paths;
    private final TaskStore store;
    private final Path shadowDir;
    private final long maxBundleBytes;
    private NodeRequests requests;
    /** shadow task id → what it runs for */
    private final Map<String, Shadow> shadows = new HashMap<>();
    /** final events (with the agent's commits) a home host could not take: sent again when it rejoins */
    private final Map<String, List<Undelivered>> undelivered = new HashMap<>();
    /** events of shadow tasks whose submission has not answered yet (a task can start before it does) */
    private final Map<String, List<JsonObject>> early = new HashMap<>();
    /** events of unknown tasks while {@link #resumeShadows} reads the shadow files; null otherwise */
    private List<JsonObject> duringResume = new java.util.ArrayList<>();

    private record Undelivered(String shadowId, JsonObject body) {}

    private static final class Shadow {
        final String home;
        final String homeTaskId;
        final RepoKey key;
        final String baseCommit;
        Future<?> forwarded = Future.succeededFuture();

        Shadow(String home, String homeTaskId, RepoKey key, String baseCommit) {
            this.home = home;
            this.homeTaskId = homeTaskId;
            this.key = key;
            this.baseCommit = baseCommit;
        }
    }

    public RemoteExecutionVerticle(String self, ClusterMembership membership, RepoRegistry repos, Path stateRoot, long maxBundleBytes) {
        this.self = self;
        this.membership = membership;
        this.repos = repos;
        this.cache = new ObjectCache(stateRoot.resolve(CACHE_DIR));
        this.scratch = stateRoot.resolve(CACHE_DIR).resolve(".incoming");
        this.paths = new StatePaths(stateRoot);
        this.store = new TaskStore(paths);
        this.shadowDir = stateRoot.resolve(CACHE_DIR).resolve(".shadows");
        this.maxBundleBytes = maxBundleBytes;
    }

    public static Path cacheRoot(Path stateRoot) {
        return stateRoot.resolve(CACHE_DIR);
    }

    @Override
    public Future<?> start() {
        requests = new NodeRequests(vertx, membership::members);
        membership.onLeft(node -> context.runOnContext(v -> requests.nodeLeft(node)));
        membership.onJoined(node -> context.runOnContext(v -> redeliver(node)));
        // also on a timer: a host that rejoined through a partition merge may be routable only later
        vertx.setPeriodic(REDELIVER_EVERY_MS, t -> List.copyOf(undelivered.keySet()).stream()
                .filter(home -> membership.members().contains(home)).forEach(this::redeliver));
        var bus = vertx.eventBus();
        // events first: a shadow recovered by this node's task manager may end at any moment, and
        // resumeShadows then finds it either still running (its final event comes here) or ended
        return bus.<JsonObject>localConsumer(Addresses.EVENTS, m -> onLocalEvent(m.body())).completion()
                .compose(v -> resumeShadows())
                .compose(v -> Future.all(List.of(
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_HAVES, self), m -> reply(m, haves(m.body()))).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_EXECUTE, self), m -> reply(m, execute(m.body()))).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_RESEND, self), m -> reply(m, resend(m.body()))).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_CANCEL, self), m -> reply(m, cancel(m.body()))).completion())));
    }

    private Future<JsonObject> haves(JsonObject b) {
        RepoKey key = new RepoKey(b.getString("home"), b.getString("alias"));
        return blocking(() -> new JsonObject().put("haves", new io.vertx.core.json.JsonArray(cache.haves(key))));
    }

    private Future<JsonObject> execute(JsonObject b) {
        String home = b.getString("home");
        String homeTaskId = b.getString("home_task_id");
        RepoKey key = new RepoKey(home, b.getString("alias"));
        String base = ObjectId.fromString(b.getString("base_commit")).name();
        byte[] bundle = b.getBinary("bundle");
        if (bundle == null || bundle.length > maxBundleBytes) return Future.failedFuture(new IllegalArgumentException("the shipment is missing or above max_bundle_bytes"));
        return blocking(() -> {
            Files.createDirectories(scratch);
            Path file = Files.createTempFile(scratch, "shipment-", ".bundle");
            try {
                Files.write(file, bundle);
                cache.receive(key, file, maxBundleBytes);
            } finally {
                Files.deleteIfExists(file);
            }
            cache.repository(key);
            return repos.allow(cache.workTree(key), localAlias(key));
        }).compose(alias -> {
            JsonObject options = b.getJsonObject("options", new JsonObject()).copy()
                    .put("base", base).put("merge_strategy", "none").put("include_uncommitted", false)
                    .put("untracked_patterns", new io.vertx.core.json.JsonArray());
            return vertx.eventBus().<JsonObject>request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", alias)
                    .put("description", b.getString("description")).put("caller", "cluster:" + home).put("options", options),
                    new DeliveryOptions().setLocalOnly(true).setSendTimeout(120_000));
        }).compose(reply -> {
            String shadowId = reply.body().getString("task_id");
            Shadow shadow = new Shadow(home, homeTaskId, key, base);
            shadows.put(shadowId, shadow);
            List<JsonObject> missed = early.remove(shadowId);
            if (missed != null) missed.forEach(this::onLocalEvent);
            LOG.info("running task {} of {} as {}", homeTaskId, home, shadowId);
            return blocking(() -> saveShadow(shadowId, shadow)).map(new JsonObject().put("task_id", shadowId).put("node", self));
        });
    }

    // ---------------------------------------------------------------- shadows across restarts

    /**
     * Which home task a shadow task runs for is kept in a file until home holds its result, so a
     * restart of this host (or of home) never cuts a task off from its home host.
     */
    private Void saveShadow(String shadowId, Shadow shadow) throws java.io.IOException {
        Files.createDirectories(shadowDir);
        Path tmp = shadowDir.resolve(shadowId + ".json.tmp");
        Files.writeString(tmp, new JsonObject().put("home", shadow.home).put("home_task_id", shadow.homeTaskId)
                .put("alias", shadow.key.alias()).put("base_commit", shadow.baseCommit).encode());
        Files.move(tmp, shadowDir.resolve(shadowId + ".json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return null;
    }

    /** Shadow id → its home task, from the files of shadows whose result has not reached home yet. */
    private Map<String, Shadow> loadShadows() throws java.io.IOException {
        Map<String, Shadow> out = new HashMap<>();
        if (!Files.isDirectory(shadowDir)) return out;
        try (var files = Files.list(shadowDir)) {
            for (Path f : files.filter(x -> x.getFileName().toString().endsWith(".json")).toList()) {
                String shadowId = f.getFileName().toString().replaceFirst("\\.json$", "");
                try {
                    JsonObject j = new JsonObject(Files.readString(f));
                    out.put(shadowId, new Shadow(j.getString("home"), j.getString("home_task_id"),
                            new RepoKey(j.getString("home"), j.getString("alias")), j.getString("base_commit")));
                } catch (RuntimeException e) {
                    LOG.warn("ignoring damaged shadow file {}: {}", f, e.getMessage());
                }
            }
        }
        return out;
    }

    /**
     * After a restart: shadows still running are followed again; those that ended meanwhile send
     * their final event home now (built from the shadow's record, which was persisted first).
     */
    private Future<Void> resumeShadows() {
        return blocking(() -> {
            Map<String, Shadow> loaded = loadShadows();
            Map<String, TaskRecord> records = new HashMap<>();
            for (String id : loaded.keySet()) store.load(id).ifPresent(r -> records.put(id, r));
            return Map.entry(loaded, records);
        }).map(found -> {
            List<JsonObject> seen = duringResume;
            duringResume = null;
            found.getKey().forEach((id, shadow) -> {
                TaskRecord r = found.getValue().get(id);
                if (r == null) return;
                shadows.put(id, shadow);
                if (r.state().isTerminal()) onLocalEvent(finalEvent(r));
                else LOG.info("following task {} of {} (here {}) again", shadow.homeTaskId, shadow.home, id);
            });
            // events that came while the files were read: those of now-known shadows count again
            // (a terminal one already sent above is ignored: the shadow left the map)
            seen.stream().filter(e -> shadows.containsKey(e.getString("task_id"))).forEach(this::onLocalEvent);
            return null;
        });
    }

    /** A home host that restarted asks after its task. */
    private Future<JsonObject> resend(JsonObject b) {
        String home = b.getString("home", "");
        String homeTaskId = b.getString("home_task_id", "");
        for (Map.Entry<String, Shadow> e : shadows.entrySet()) {
            if (e.getValue().homeTaskId.equals(homeTaskId) && e.getValue().home.equals(home)) {
                return Future.succeededFuture(new JsonObject().put("state", "running").put("task_id", e.getKey()));
            }
        }
        return blocking(() -> {
            for (Map.Entry<String, Shadow> e : loadShadows().entrySet()) {
                if (!e.getValue().homeTaskId.equals(homeTaskId) || !e.getValue().home.equals(home)) continue;
                TaskRecord r = store.load(e.getKey()).orElse(null);
                if (r != null) return Map.entry(e, r);
            }
            return null;
        }).map(found -> {
            if (found == null) return new JsonObject().put("state", "unknown");
            String shadowId = found.getKey().getKey();
            if (shadows.containsKey(shadowId)) return new JsonObject().put("state", "running").put("task_id", shadowId);
            shadows.put(shadowId, found.getKey().getValue());
            if (!found.getValue().state().isTerminal()) return new JsonObject().put("state", "running").put("task_id", shadowId);
            List<Undelivered> waiting = undelivered.get(home);
            if (waiting != null) waiting.removeIf(u -> u.shadowId().equals(shadowId)); // sent now instead
            onLocalEvent(finalEvent(found.getValue()));
            return new JsonObject().put("state", "finished").put("task_id", shadowId);
        });
    }

    /** The terminal task.state event of a finished shadow, as its task verticle published it. */
    private static JsonObject finalEvent(TaskRecord r) {
        JsonObject data = new JsonObject().put("state", r.state().wireName()).put("exit_code", r.exitCode());
        if (r.reason() != null) data.put("reason", r.reason()).put("error", r.error());
        if (r.result() != null) data.put("result", r.result());
        return new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", r.id()).put("data", data);
    }

    private Future<JsonObject> cancel(JsonObject b) {
        String homeTaskId = b.getString("home_task_id");
        for (Map.Entry<String, Shadow> e : shadows.entrySet()) {
            if (e.getValue().homeTaskId.equals(homeTaskId)) {
                return vertx.eventBus().<JsonObject>request(Addresses.TASK_CANCEL, new JsonObject().put("task_id", e.getKey()),
                        new DeliveryOptions().setLocalOnly(true)).map(Message::body);
            }
        }
        return Future.failedFuture(new IllegalArgumentException("no task " + homeTaskId + " runs on " + self));
    }

    /** Every event of this host's log; those of shadow tasks travel home, in order. */
    private void onLocalEvent(JsonObject event) {
        String shadowId = event.getString("task_id");
        Shadow shadow = shadowId == null ? null : shadows.get(shadowId);
        String type = event.getString("type");
        JsonObject data = event.getJsonObject("data", new JsonObject());
        if (shadow == null) {
            if (duringResume != null) duringResume.add(event); // maybe a shadow resumeShadows is about to know
            List<JsonObject> held = early.get(shadowId);
            if (held != null) held.add(event);
            else if (EventTypes.TASK_STATE.equals(type) && "queued".equals(data.getString("state"))
                    && data.getString("caller", "").startsWith("cluster:")) early.put(shadowId, new java.util.ArrayList<>(List.of(event)));
            return;
        }
        boolean terminal = EventTypes.TASK_STATE.equals(type) && TaskState.fromWire(data.getString("state", "queued")).isTerminal();
        if (terminal) shadows.remove(shadowId);
        shadow.forwarded = shadow.forwarded.transform(x -> {
            Future<JsonObject> body = terminal
                    ? withResultBundle(shadow, shadowId, data).onFailure(e -> LOG.error("the result of task {} (here {}) cannot be sent to {}: {}",
                            shadow.homeTaskId, shadowId, shadow.home, e.toString()))
                    : Future.succeededFuture(new JsonObject().put("data", data));
            return body.compose(b -> {
                b.put("home_task_id", shadow.homeTaskId).put("node", self).put("type", type);
                return requests.request(shadow.home, Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, shadow.home), b, EVENT_TIMEOUT_MS)
                        .onSuccess(reply -> {
                            if (terminal) cleanUpShadow(shadowId, reply);
                        })
                        .onFailure(e -> {
                            LOG.warn("event {} of task {} did not reach {}: {}", type, shadow.homeTaskId, shadow.home, e.getMessage());
                            if (terminal) undelivered.computeIfAbsent(shadow.home, h -> new java.util.ArrayList<>())
                                    .add(new Undelivered(shadowId, b));
                        });
            });
        });
    }

    /**
     * A home host that lost sight of this host reported the task node_lost; when it is back, the
     * final event goes again so the agent's commits are saved there (the task stays failed).
     */
    private void redeliver(String home) {
        List<Undelivered> waiting = undelivered.remove(home);
        if (waiting == null) return;
        for (Undelivered u : waiting) {
            LOG.info("{} is back: sending the result of task {} again", home, u.body().getString("home_task_id"));
            requests.request(home, Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, home), u.body(), REDELIVERY_TIMEOUT_MS)
                    .onSuccess(reply -> cleanUpShadow(u.shadowId(), reply))
                    .onFailure(e -> {
                        LOG.warn("the result of task {} did not reach {} again: {}", u.body().getString("home_task_id"), home, e.getMessage());
                        undelivered.computeIfAbsent(home, h -> new java.util.ArrayList<>()).add(u);
                    });
        }
    }

    /**
     * A finished shadow task's work tree and inputs are removed once its final event reached home;
     * its {@code refs/tasks/<id>} in the object cache only when home says it holds the commits.
     * Its record and console log stay here; home has its own copies of both logs.
     */
    private void cleanUpShadow(String shadowId, JsonObject reply) {
        if (reply != null && reply.getBoolean("pending", false)) return; // home restarted and will ask for it (CLUSTER_RESEND)
        boolean kept = reply != null && reply.getBoolean("commits_kept", false);
        if (kept) {
            blocking(() -> Files.deleteIfExists(shadowDir.resolve(shadowId + ".json")))
                    .onFailure(e -> LOG.warn("could not delete the shadow file of {}: {}", shadowId, e.getMessage()));
        }
        vertx.eventBus().<JsonObject>request(Addresses.TASK_CLEANUP, new JsonObject().put("task_id", shadowId).put("delete_ref", kept),
                        new DeliveryOptions().setLocalOnly(true))
                .onSuccess(m -> LOG.debug("cleaned up shadow task {}: {}", shadowId, m.body().getValue("removed")))
                .onFailure(e -> LOG.warn("could not clean up shadow task {}: {}", shadowId, e.getMessage()));
    }

    /**
     * The agent's commits ({@code refs/tasks/<shadow>}) minus the shipped base, which home already
     * has, and the end of the agent's log (home serves it from then on; this host deletes its copy).
     */
    private Future<JsonObject> withResultBundle(Shadow shadow, String shadowId, JsonObject data) {
        return blocking(() -> {
            JsonObject out = new JsonObject().put("data", data);
            try {
                // the VM has stopped (terminal state), so the guest-written log can be read
                new GuestOutputReader(paths.taskIo(shadowId), SHIPPED_AGENT_LOG_BYTES).readTailIfPresent(GuestContract.OUT_AGENT_LOG)
                        .ifPresent(log -> out.put("agent_log", log.content()).put("agent_log_size", log.size()));
            } catch (java.io.IOException e) {
                LOG.warn("the agent log of task {} is not shipped home: {}", shadowId, e.getMessage());
            }
            try (Repository repo = cache.open(shadow.key)) {
                Ref tip = repo.exactRef("refs/tasks/" + shadowId);
                if (tip == null || tip.getObjectId().name().equals(shadow.baseCommit)) return out;
                Files.createDirectories(scratch);
                Path file = Files.createTempFile(scratch, "result-", ".bundle");
                try {
                    ObjectShipping.write(repo, Map.of("refs/heads/result", tip.getObjectId()), List.of(shadow.baseCommit), file);
                    out.put("bundle", Buffer.buffer(Files.readAllBytes(file)).getBytes());
                } finally {
                    Files.deleteIfExists(file);
                }
            }
            return out;
        });
    }

    /** A registry alias for a cached repository of another host (aliases are at most 64 characters). */
    static String localAlias(RepoKey key) {
        String alias = "cluster." + key.home() + "." + key.alias();
        return alias.length() <= 64 ? alias : alias.substring(0, 64);
    }

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }

    private static void reply(Message<JsonObject> msg, Future<JsonObject> f) {
        f.onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result());
            else msg.fail(500, ar.cause().getMessage() == null ? ar.cause().toString() : ar.cause().getMessage());
        });
    }

}
