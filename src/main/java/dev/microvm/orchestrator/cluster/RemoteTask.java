package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.task.TaskRecord;
import io.vertx.core.Future;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;

import java.util.function.Supplier;

/** On the home host: a task that runs on another host. Touched only on the home side's event loop. */
final class RemoteTask {

    final String node;
    /** its home record, as last persisted */
    TaskRecord record;
    boolean started;
    /** picked up again after this host restarted; its host is asked after it */
    boolean followed;
    /** cancel requests for it (the address a local task's verticle would listen on) */
    MessageConsumer<JsonObject> control;
    private Future<?> last = Future.succeededFuture();

    RemoteTask(String node, TaskRecord record) {
        this.node = node;
        this.record = record;
    }

    String id() {
        return record.id();
    }

    /** Runs {@code step} once every step queued before it has ended (however it ended): its events apply in order. */
    <T> Future<T> inOrder(Supplier<Future<T>> step) {
        Future<T> f = last.transform(x -> step.get());
        last = f;
        return f;
    }
}
