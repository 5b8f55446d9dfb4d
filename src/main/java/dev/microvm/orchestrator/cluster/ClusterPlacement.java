package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskPlacement;
import dev.microvm.orchestrator.task.TaskRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;

/**
 * The placement of a cluster member. It asks this host's {@link RemoteTasksVerticle} over local
 * addresses ({@link Addresses#CLUSTER_PLACE}, {@link Addresses#CLUSTER_FOLLOW}); the node is built
 * with it before the cluster's verticles are deployed, so it copes with their absence:
 * <ul>
 *   <li>a new task whose placement fails or finds no consumer runs here (with a warning when the
 *       consumer failed);</li>
 *   <li>a recovered task placed on another host is followed: a record that cannot be followed (no
 *       other host, never shipped) is recovered here; one that arrives before the cluster's
 *       verticles are up is handed to them as soon as they are.</li>
 * </ul>
 */
public final class ClusterPlacement implements TaskPlacement {

    private static final Logger LOG = LoggerFactory.getLogger(ClusterPlacement.class);
    /** Placing a task may ship its base to another host first. */
    private static final DeliveryOptions PLACE = new DeliveryOptions().setLocalOnly(true).setSendTimeout(180_000);
    private static final DeliveryOptions FOLLOW = new DeliveryOptions().setLocalOnly(true).setSendTimeout(30_000);
    static final long FOLLOW_RETRY_MS = 1_000;
    /** {@code prepared.method} of a task whose base was shipped to another host. */
    static final String SHIPPED = "shipped";

    private final Vertx vertx;
    private final String self;

    public ClusterPlacement(Vertx vertx, String self) {
        this.vertx = vertx;
        this.self = self;
    }

    @Override
    public Future<Optional<TaskRecord>> place(TaskRecord record) {
        return vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_PLACE, new JsonObject().put("record", record.toJson()), PLACE)
                .transform(ar -> {
                    if (ar.failed()) {
                        if (!noConsumer(ar.cause())) LOG.warn("cluster placement failed for task {} ({}); it runs here", record.id(), ar.cause().getMessage());
                        return Future.succeededFuture(Optional.empty());
                    }
                    JsonObject placed = ar.result().body().getJsonObject("record");
                    return Future.succeededFuture(placed == null ? Optional.empty() : Optional.of(TaskRecord.fromJson(placed)));
                });
    }

    @Override
    public Future<Boolean> follow(TaskRecord record) {
        if (!followable(record, self)) return Future.succeededFuture(false);
        return vertx.eventBus().request(Addresses.CLUSTER_FOLLOW, new JsonObject().put("record", record.toJson()), FOLLOW)
                .transform(ar -> {
                    if (ar.succeeded()) return Future.succeededFuture(true);
                    if (noConsumer(ar.cause())) {
                        handOverLater(record);
                        return Future.succeededFuture(true);
                    }
                    LOG.warn("task {} placed on {} cannot be followed ({}); it is recovered here", record.id(), record.node(), ar.cause().getMessage());
                    return Future.succeededFuture(false);
                });
    }

    /**
     * A task this host shipped to another host: the only kind the home side follows. A record naming
     * another node that was prepared locally (a task of another orchestrator process on this host,
     * whose node id is not a member's) is recovered here.
     */
    static boolean followable(TaskRecord r, String self) {
        return r.node() != null && !r.node().equals(self) && r.prepared() != null
                && SHIPPED.equals(r.prepared().getString("method"));
    }

    /** The cluster's verticles deploy after the node: the record is handed to them once they listen. */
    private void handOverLater(TaskRecord record) {
        vertx.setTimer(FOLLOW_RETRY_MS, t -> vertx.eventBus().request(Addresses.CLUSTER_FOLLOW, new JsonObject().put("record", record.toJson()), FOLLOW)
                .onFailure(e -> {
                    if (noConsumer(e)) handOverLater(record);
                    else LOG.warn("task {} placed on {} could not be followed: {}", record.id(), record.node(), e.getMessage());
                }));
    }

    private static boolean noConsumer(Throwable t) {
        return t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS;
    }
}
