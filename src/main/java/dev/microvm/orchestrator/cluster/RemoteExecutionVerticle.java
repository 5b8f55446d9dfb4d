package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.task.TaskState;
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
    /** The most of a shadow task's agent log that travels home with its final event (its end). */
    static final int SHIPPED_AGENT_LOG_BYTES = 1 << 20;

    private final String self;
    private final ClusterMembership membership;
    private final RepoRegistry repos;
    private final ObjectCache cache;
    private final Path scratch;
    private final StatePaths paths;
    private final long maxBundleBytes;
    private NodeRequests requests;
    /** shadow task id → what it runs for */
    private final Map<String, Shadow> shadows = new HashMap<>();
    /** final events (with the agent's commits) a home host could not take: sent again when it rejoins */
    private final Map<String, List<Undelivered>> undelivered = new HashMap<>();
    /** events of shadow tasks whose submission has not answered yet (a task can start before it does) */
    private final Map<String, List<JsonObject>> early = new HashMap<>();

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
        var bus = vertx.eventBus();
        return Future.all(List.of(
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_HAVES, self), m -> reply(m, haves(m.body()))).completion(),
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_EXECUTE, self), m -> reply(m, execute(m.body()))).completion(),
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_CANCEL, self), m -> reply(m, cancel(m.body()))).completion(),
                bus.<JsonObject>localConsumer(Addresses.EVENTS, m -> onLocalEvent(m.body())).completion()));
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
        }).map(reply -> {
            String shadowId = reply.body().getString("task_id");
            shadows.put(shadowId, new Shadow(home, homeTaskId, key, base));
            List<JsonObject> missed = early.remove(shadowId);
            if (missed != null) missed.forEach(this::onLocalEvent);
            LOG.info("running task {} of {} as {}", homeTaskId, home, shadowId);
            return new JsonObject().put("task_id", shadowId).put("node", self);
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
            List<JsonObject> held = early.get(shadowId);
            if (held != null) held.add(event);
            else if (EventTypes.TASK_STATE.equals(type) && "queued".equals(data.getString("state"))
                    && data.getString("caller", "").startsWith("cluster:")) early.put(shadowId, new java.util.ArrayList<>(List.of(event)));
            return;
        }
        boolean terminal = EventTypes.TASK_STATE.equals(type) && TaskState.fromWire(data.getString("state", "queued")).isTerminal();
        if (terminal) shadows.remove(shadowId);
        shadow.forwarded = shadow.forwarded.transform(x -> {
            Future<JsonObject> body = terminal ? withResultBundle(shadow, shadowId, data)
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
            requests.request(home, Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, home), u.body(), EVENT_TIMEOUT_MS)
                    .onSuccess(reply -> cleanUpShadow(u.shadowId(), reply))
                    .onFailure(e -> undelivered.computeIfAbsent(home, h -> new java.util.ArrayList<>()).add(u));
        }
    }

    /**
     * A finished shadow task's work tree and inputs are removed once its final event reached home;
     * its {@code refs/tasks/<id>} in the object cache only when home says it holds the commits.
     * Its record and console log stay here; home has its own copies of both logs.
     */
    private void cleanUpShadow(String shadowId, JsonObject reply) {
        boolean kept = reply != null && reply.getBoolean("commits_kept", false);
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
