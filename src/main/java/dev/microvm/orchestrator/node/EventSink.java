package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.TaskEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;

/**
 * Appends an event to the durable log, then announces it on {@link Addresses#EVENTS}. The log write
 * happens first so a consumer that sees an event can always find it again by sequence number.
 */
public final class EventSink {

    /** Sequence numbers belong to this host's log: in a cluster, events must not reach other hosts' consumers. */
    public static final DeliveryOptions LOCAL = new DeliveryOptions().setLocalOnly(true);

    private final Vertx vertx;
    private final EventLog log;

    public EventSink(Vertx vertx, EventLog log) {
        this.vertx = vertx;
        this.log = log;
    }

    /** From an event loop: the blocking append runs on a worker thread. */
    public Future<TaskEvent> publish(String type, String taskId, JsonObject data) {
        return vertx.executeBlocking(() -> appendAndPublish(type, taskId, data), false);
    }

    /** From a worker thread. */
    public TaskEvent appendAndPublish(String type, String taskId, JsonObject data) {
        TaskEvent e = log.append(type, taskId, data);
        vertx.eventBus().publish(Addresses.EVENTS, e.toJson(), LOCAL);
        return e;
    }

    public EventLog log() {
        return log;
    }
}
