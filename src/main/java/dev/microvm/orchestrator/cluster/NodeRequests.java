package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.task.FailureReason;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Requests to another host's node-qualified addresses, tracked per host. The clustered event bus
 * never fails a request early when its recipient dies (it waits for the full send timeout), so
 * when the membership reports a host gone, every request still waiting on it fails at once with
 * {@value #NODE_LOST}. A request to a host that is not a member fails immediately the same way.
 *
 * <p>Use from one event loop (the owning verticle's context).
 */
public final class NodeRequests {

    public static final String NODE_LOST = FailureReason.NODE_LOST.wireName();

    private final Vertx vertx;
    private final Supplier<List<String>> members;
    private final Map<String, Set<Promise<JsonObject>>> pending = new HashMap<>();

    public NodeRequests(Vertx vertx, Supplier<List<String>> members) {
        this.vertx = vertx;
        this.members = members;
    }

    public Future<JsonObject> request(String node, String address, JsonObject body, long timeoutMs) {
        if (!members.get().contains(node)) return Future.failedFuture(lost(node));
        Promise<JsonObject> promise = Promise.promise();
        Set<Promise<JsonObject>> forNode = pending.computeIfAbsent(node, n -> new HashSet<>());
        forNode.add(promise);
        vertx.eventBus().<JsonObject>request(address, body, new DeliveryOptions().setSendTimeout(timeoutMs))
                .map(Message::body)
                .onComplete(ar -> {
                    forNode.remove(promise);
                    if (ar.succeeded()) promise.tryComplete(ar.result());
                    else promise.tryFail(ar.cause());
                });
        return promise.future();
    }

    /** The membership lost {@code node}: fail everything still waiting on it. */
    public void nodeLeft(String node) {
        Set<Promise<JsonObject>> waiting = pending.remove(node);
        if (waiting == null) return;
        for (Promise<JsonObject> p : List.copyOf(waiting)) p.tryFail(lost(node));
    }

    public int inFlight(String node) {
        return pending.getOrDefault(node, Set.of()).size();
    }

    static ReplyException lost(String node) {
        return new ReplyException(ReplyFailure.RECIPIENT_FAILURE, FailureReason.NODE_LOST.code(),
                "host " + node + " is not (or no longer) a member of the cluster");
    }
}
