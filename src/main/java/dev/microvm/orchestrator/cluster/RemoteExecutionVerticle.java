package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.eclipse.jgit.lib.ObjectId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The executing side of a shipped task. A home host sends the commits a task needs
 * ({@link Addresses#CLUSTER_EXECUTE}); they go into this host's {@link ObjectCache}, whose empty
 * work tree is registered as a local repository, and a <em>shadow</em> task runs on it here like any
 * local task, pinned to the shipped base commit and with merge strategy {@code none}. Its events go
 * back to the home host in order ({@link HomeDelivery}); its terminal state carries the agent's
 * commits as a bundle ({@link ShadowResults}), so the home host saves and merges them into the
 * user's repository. Which home task a shadow runs for survives restarts ({@link ShadowFiles}).
 */
public final class RemoteExecutionVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(RemoteExecutionVerticle.class);
    static final String CACHE_DIR = "cluster-cache";
    private static final long REDELIVER_EVERY_MS = 10_000;

    private final String self;
    private final Members membership;
    private final RepoRegistry repos;
    private final ObjectCache cache;
    private final Path scratch;
    private final TaskStore store;
    private final ShadowFiles files;
    private final ShadowResults results;
    private final long maxBundleBytes;
    private NodeRequests requests;
    private HomeDelivery delivery;
    /** shadow task id → what it runs for */
    private final Map<String, Shadow> shadows = new HashMap<>();
    /** events of shadow tasks whose submission has not answered yet (a task can start before it does) */
    private final Map<String, List<JsonObject>> early = new HashMap<>();
    /** events of unknown tasks while {@link #resumeShadows} reads the shadow files; null otherwise */
    private List<JsonObject> duringResume = new ArrayList<>();

    public RemoteExecutionVerticle(String self, Members membership, RepoRegistry repos, Path stateRoot, long maxBundleBytes) {
        this.self = self;
        this.membership = membership;
        this.repos = repos;
        this.cache = new ObjectCache(cacheRoot(stateRoot));
        this.scratch = cacheRoot(stateRoot).resolve(".incoming");
        StatePaths paths = new StatePaths(stateRoot);
        this.store = new TaskStore(paths);
        this.files = new ShadowFiles(cacheRoot(stateRoot).resolve(".shadows"));
        this.results = new ShadowResults(paths, cache, scratch);
        this.maxBundleBytes = maxBundleBytes;
    }

    public static Path cacheRoot(Path stateRoot) {
        return stateRoot.resolve(CACHE_DIR);
    }

    @Override
    public Future<?> start() {
        requests = new NodeRequests(vertx, membership::members);
        delivery = new HomeDelivery(vertx, self, requests, files, results);
        membership.onLeft(node -> context.runOnContext(v -> requests.nodeLeft(node)));
        membership.onJoined(node -> context.runOnContext(v -> delivery.redeliver(node)));
        // also on a timer: a host that rejoined through a partition merge may be routable only later
        vertx.setPeriodic(REDELIVER_EVERY_MS, t -> delivery.waitingHomes().stream()
                .filter(home -> membership.members().contains(home)).forEach(delivery::redeliver));
        var bus = vertx.eventBus();
        // events first: a shadow recovered by this node's task manager may end at any moment, and
        // resumeShadows then finds it either still running (its final event comes here) or ended
        return bus.<JsonObject>localConsumer(Addresses.EVENTS, m -> onLocalEvent(m.body())).completion()
                .compose(v -> resumeShadows())
                .compose(v -> Future.all(List.of(
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_HAVES, self), Replies.to(this::haves)).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_EXECUTE, self), Replies.to(this::execute)).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_RESEND, self), Replies.to(this::resend)).completion(),
                        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_CANCEL, self), Replies.to(this::cancel)).completion())));
    }

    private Future<JsonObject> haves(JsonObject b) {
        RepoKey key = new RepoKey(b.getString("home"), b.getString("alias"));
        return blocking(() -> new JsonObject().put("haves", new JsonArray(cache.haves(key))));
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
                    .put("untracked_patterns", new JsonArray());
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
            return blocking(() -> {
                files.save(shadowId, shadow);
                return new JsonObject().put("task_id", shadowId).put("node", self);
            });
        });
    }

    // ---------------------------------------------------------------- shadows across restarts

    /**
     * After a restart: shadows still running are followed again; those that ended meanwhile send
     * their final event home now (built from the shadow's record, which was persisted first).
     */
    private Future<Void> resumeShadows() {
        return blocking(() -> {
            Map<String, Shadow> loaded = files.load();
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
                if (r.state().isTerminal()) onLocalEvent(ShadowResults.finalEvent(r));
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
            if (e.getValue().runsFor(home, homeTaskId)) return Future.succeededFuture(new JsonObject().put("state", "running").put("task_id", e.getKey()));
        }
        return blocking(() -> {
            for (Map.Entry<String, Shadow> e : files.load().entrySet()) {
                if (!e.getValue().runsFor(home, homeTaskId)) continue;
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
            delivery.drop(home, shadowId); // sent now instead
            onLocalEvent(ShadowResults.finalEvent(found.getValue()));
            return new JsonObject().put("state", "finished").put("task_id", shadowId);
        });
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
                    && data.getString("caller", "").startsWith("cluster:")) early.put(shadowId, new ArrayList<>(List.of(event)));
            return;
        }
        boolean terminal = EventTypes.TASK_STATE.equals(type) && TaskState.fromWire(data.getString("state", "queued")).isTerminal();
        if (terminal) shadows.remove(shadowId);
        delivery.forward(shadowId, shadow, type, data, terminal);
    }

    /** A registry alias for a cached repository of another host (aliases are at most 64 characters). */
    static String localAlias(RepoKey key) {
        String alias = "cluster." + key.home() + "." + key.alias();
        return alias.length() <= 64 ? alias : alias.substring(0, 64);
    }

    private <T> Future<T> blocking(Callable<T> c) {
        return vertx.executeBlocking(c, false);
    }
}
