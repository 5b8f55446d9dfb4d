package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * On the executing host: a shadow task's events go to its home host ({@link Addresses#CLUSTER_TASK_EVENT})
 * in order. A final event home could not take (it was away) is kept and sent again when home is
 * back. Once home answers a final event, the shadow's work tree and inputs go; its commits and its
 * shadow file only when home says it holds the commits. Touched only on the executing side's event loop.
 */
final class HomeDelivery {

    private static final Logger LOG = LoggerFactory.getLogger(HomeDelivery.class);
    private static final long EVENT_TIMEOUT_MS = 10 * 60_000;
    /** A home host that is back answers a result it already knows quickly; do not wait the full event timeout. */
    private static final long REDELIVERY_TIMEOUT_MS = 120_000;

    private final Vertx vertx;
    private final String self;
    private final NodeRequests requests;
    private final ShadowFiles files;
    private final ShadowResults results;
    /** home → final events (with the agent's commits) it could not take */
    private final Map<String, List<Undelivered>> undelivered = new HashMap<>();

    private record Undelivered(String shadowId, JsonObject body) {}

    HomeDelivery(Vertx vertx, String self, NodeRequests requests, ShadowFiles files, ShadowResults results) {
        this.vertx = vertx;
        this.self = self;
        this.requests = requests;
        this.files = files;
        this.results = results;
    }

    /** Sends one event of a shadow task home, after the ones before it; a terminal one carries the task's result. */
    void forward(String shadowId, Shadow shadow, String type, JsonObject data, boolean terminal) {
        shadow.inOrder(() -> {
            Future<JsonObject> body = terminal
                    ? vertx.executeBlocking(() -> results.body(shadow, shadowId, data), false)
                            .onFailure(e -> LOG.error("the result of task {} (here {}) cannot be sent to {}: {}",
                                    shadow.homeTaskId, shadowId, shadow.home, e.toString()))
                    : Future.succeededFuture(new JsonObject().put("data", data));
            return body.compose(b -> {
                b.put("home_task_id", shadow.homeTaskId).put("node", self).put("type", type);
                return requests.request(shadow.home, Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, shadow.home), b, EVENT_TIMEOUT_MS)
                        .onSuccess(reply -> {
                            if (terminal) cleanUp(shadowId, reply);
                        })
                        .onFailure(e -> {
                            LOG.warn("event {} of task {} did not reach {}: {}", type, shadow.homeTaskId, shadow.home, e.getMessage());
                            if (terminal) keep(shadow.home, new Undelivered(shadowId, b));
                        });
            });
        });
    }

    /** Homes with results waiting for them. */
    Set<String> waitingHomes() {
        return Set.copyOf(undelivered.keySet());
    }

    /** The shadow's final event is about to be sent anew: the kept copy goes. */
    void drop(String home, String shadowId) {
        List<Undelivered> waiting = undelivered.get(home);
        if (waiting != null) waiting.removeIf(u -> u.shadowId().equals(shadowId));
    }

    /**
     * A home host that lost sight of this host reported the task node_lost; when it is back, the
     * final event goes again so the agent's commits are saved there (the task stays failed).
     */
    void redeliver(String home) {
        List<Undelivered> waiting = undelivered.remove(home);
        if (waiting == null) return;
        for (Undelivered u : waiting) {
            LOG.info("{} is back: sending the result of task {} again", home, u.body().getString("home_task_id"));
            requests.request(home, Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, home), u.body(), REDELIVERY_TIMEOUT_MS)
                    .onSuccess(reply -> cleanUp(u.shadowId(), reply))
                    .onFailure(e -> {
                        LOG.warn("the result of task {} did not reach {} again: {}", u.body().getString("home_task_id"), home, e.getMessage());
                        keep(home, u);
                    });
        }
    }

    private void keep(String home, Undelivered u) {
        undelivered.computeIfAbsent(home, h -> new ArrayList<>()).add(u);
    }

    /**
     * A finished shadow task's work tree and inputs are removed once its final event reached home;
     * its {@code refs/tasks/<id>} in the object cache only when home says it holds the commits.
     * Its record and console log stay here; home has its own copies of both logs.
     */
    private void cleanUp(String shadowId, JsonObject reply) {
        if (reply != null && reply.getBoolean("pending", false)) return; // home restarted and will ask for it (CLUSTER_RESEND)
        boolean kept = reply != null && reply.getBoolean("commits_kept", false);
        if (kept) {
            vertx.executeBlocking(() -> files.delete(shadowId), false)
                    .onFailure(e -> LOG.warn("could not delete the shadow file of {}: {}", shadowId, e.getMessage()));
        }
        vertx.eventBus().<JsonObject>request(Addresses.TASK_CLEANUP, new JsonObject().put("task_id", shadowId).put("delete_ref", kept),
                        new DeliveryOptions().setLocalOnly(true))
                .onSuccess(m -> LOG.debug("cleaned up shadow task {}: {}", shadowId, m.body().getValue("removed")))
                .onFailure(e -> LOG.warn("could not clean up shadow task {}: {}", shadowId, e.getMessage()));
    }
}
