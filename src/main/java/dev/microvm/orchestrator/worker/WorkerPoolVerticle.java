package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs every blocking operation (hypervisor processes, JGit, disk) on worker threads. Deploy with
 * the WORKER threading model and several instances: each instance handles one request at a time,
 * the event bus spreads requests over the instances. Operations are plain functions from a request
 * to a reply, implemented elsewhere; this verticle only hosts them.
 */
public final class WorkerPoolVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(WorkerPoolVerticle.class);

    private final Map<String, Function<JsonObject, JsonObject>> operations;

    /** @param operations address → blocking operation */
    public WorkerPoolVerticle(Map<String, Function<JsonObject, JsonObject>> operations) {
        this.operations = Map.copyOf(operations);
    }

    @Override
    public Future<?> start() {
        if (!context.isWorkerContext()) {
            return Future.failedFuture("WorkerPoolVerticle must be deployed with the WORKER threading model");
        }
        return Future.all(operations.entrySet().stream()
                .map(e -> vertx.eventBus().<JsonObject>localConsumer(e.getKey(), msg -> run(e.getKey(), e.getValue(), msg)).completion())
                .toList());
    }

    private void run(String address, Function<JsonObject, JsonObject> op, Message<JsonObject> msg) {
        try {
            JsonObject reply = op.apply(msg.body());
            msg.reply(reply == null ? new JsonObject() : reply);
        } catch (WorkerFailure f) {
            LOG.warn("{} failed: [{}] {}", address, f.reason(), f.getMessage());
            TaskFailure.reply(msg, FailureReason.fromWire(f.reason()), f.getMessage());
        } catch (IllegalArgumentException e) {
            TaskFailure.reply(msg, FailureReason.INVALID_REQUEST, e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("{} failed", address, e);
            TaskFailure.reply(msg, FailureReason.INTERNAL_ERROR, e.toString());
        }
    }

    /** Addresses that are hosted by worker pools (for documentation and tests). */
    public static List<String> addresses() {
        return List.of(Addresses.WORKER_OWN, Addresses.WORKER_DISOWN, Addresses.WORKER_PERSIST, Addresses.WORKER_PREPARE,
                Addresses.WORKER_VM_START, Addresses.WORKER_VM_AWAIT, Addresses.WORKER_VM_STOP,
                Addresses.WORKER_VM_RECOVER, Addresses.WORKER_COLLECT, Addresses.WORKER_MERGE);
    }
}
