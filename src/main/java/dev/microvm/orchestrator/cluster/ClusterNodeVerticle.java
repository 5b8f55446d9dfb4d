package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * This host's face in the cluster: offers its slots to the other members on its node-qualified
 * {@link Addresses#CLUSTER_NODE_INFO}, answers {@link Addresses#CLUSTER_NODES} locally with every
 * member's offer and where the next task would be placed, and fails requests to a member the
 * moment the membership drops it (see {@link NodeRequests}).
 */
public final class ClusterNodeVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterNodeVerticle.class);
    private static final long INFO_TIMEOUT_MS = 5_000;
    /** A member that answered this recently and is still in the membership keeps its last offer when a request fails. */
    private static final long STALE_OFFER_MS = 60_000;

    private final String self;
    private final Members membership;
    private NodeRequests requests;
    /** member → its last answered offer and when (event-loop only) */
    private final java.util.Map<String, JsonObject> lastOffer = new java.util.HashMap<>();
    private final java.util.Map<String, Long> lastOfferAt = new java.util.HashMap<>();

    public ClusterNodeVerticle(String self, Members membership) {
        this.self = self;
        this.membership = membership;
    }

    @Override
    public Future<?> start() {
        requests = new NodeRequests(vertx, membership::members);
        membership.onLeft(node -> context.runOnContext(v -> {
            LOG.warn("cluster member {} left; failing its {} request(s) in flight", node, requests.inFlight(node));
            requests.nodeLeft(node);
        }));
        membership.onJoined(node -> LOG.info("cluster member {} joined", node));
        var bus = vertx.eventBus();
        return Future.all(
                bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_NODE_INFO, self), Replies.to(b -> info())).completion(),
                bus.<JsonObject>localConsumer(Addresses.CLUSTER_NODES, Replies.to(b -> nodes())).completion());
    }

    /** A request to another member's node-qualified address, failed as node_lost if that member goes. Any thread. */
    public Future<JsonObject> requestOn(String node, String address, JsonObject body, long timeoutMs) {
        io.vertx.core.Promise<JsonObject> result = io.vertx.core.Promise.promise();
        context.runOnContext(v -> requests.request(node, address, body, timeoutMs).onComplete(result));
        return result.future();
    }

    /** This host's offer: its slots and its driver's fingerprint (an unhealthy driver takes no task). */
    private Future<JsonObject> info() {
        var bus = vertx.eventBus();
        Future<JsonObject> slotList = bus.<JsonObject>request(Addresses.SLOT_LIST, new JsonObject()).map(Message::body);
        Future<JsonObject> driver = bus.<JsonObject>request(Addresses.NODE_DRIVER, new JsonObject()).map(Message::body);
        return Future.all(slotList, driver).transform(ar -> {
            if (ar.failed()) return Future.failedFuture(new IllegalStateException("this node did not describe itself: " + ar.cause().getMessage()));
            JsonObject slots = slotList.result();
            return Future.succeededFuture(new JsonObject().put("node", self).put("slots", slots.getInteger("max_slots", 0))
                    .put("busy", size(slots.getJsonArray("active"))).put("queued", size(slots.getJsonArray("queued")))
                    .put("healthy", driver.result().getBoolean("healthy", false)).put("fingerprint", driver.result()));
        });
    }

    private Future<JsonObject> nodes() {
        List<String> members = membership.members();
        List<Future<JsonObject>> answers = new ArrayList<>();
        for (String m : members) {
            answers.add(requests.request(m, Addresses.onNode(Addresses.CLUSTER_NODE_INFO, m), new JsonObject(), INFO_TIMEOUT_MS)
                    .map(j -> {
                        lastOffer.put(m, j.copy());
                        lastOfferAt.put(m, System.nanoTime());
                        return j.put("state", "up");
                    })
                    .otherwise(e -> staleOffer(m).orElseGet(() ->
                            new JsonObject().put("node", m).put("state", "unreachable").put("error", e.getMessage()))));
        }
        return Future.join(answers).transform(ar -> {
            JsonArray nodes = new JsonArray();
            List<Placement.HostLoad> loads = new ArrayList<>();
            for (Future<JsonObject> f : answers) {
                JsonObject n = f.result();
                nodes.add(n);
                if ("up".equals(n.getString("state"))) {
                    loads.add(Placement.HostLoad.of(n, 0));
                }
            }
            return Future.succeededFuture(new JsonObject().put("self", self).put("nodes", nodes)
                    .put("next_placement", Placement.choose(self, loads).orElse(null)));
        });
    }

    /**
     * A member whose answer is late (a loaded host, a long pause) but which is still in the
     * membership is not dropped from placement at once: its last offer stands for a minute.
     */
    private java.util.Optional<JsonObject> staleOffer(String member) {
        Long at = lastOfferAt.get(member);
        if (at == null || !membership.members().contains(member)
                || System.nanoTime() - at > java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(STALE_OFFER_MS)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(lastOffer.get(member).copy().put("state", "up").put("stale", true));
    }

    private static int size(JsonArray a) {
        return a == null ? 0 : a.size();
    }
}
