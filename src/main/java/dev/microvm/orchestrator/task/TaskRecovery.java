package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The task manager's adoption sweep: every unfinished task whose owner lock is free (its process
 * died or exited) is taken: recovered here, or followed by the placement when it names another node
 * and the placement says so. Runs on the task manager's context, one sweep at a time.
 */
final class TaskRecovery {
    private static final Logger LOG = LoggerFactory.getLogger(TaskRecovery.class);

    private final Vertx vertx;
    private final TaskStore store;
    private final TaskPlacement placement;
    private final String nodeId;
    private final Predicate<String> tracked;
    private final Function<TaskRecord, Future<Void>> recoverHere;
    private final java.util.function.Consumer<String> followed;
    private boolean sweeping;

    /**
     * @param tracked     true for a task this process already runs, places or follows
     * @param recoverHere deploys a recovering task here
     * @param followed    notes a task the placement follows
     */
    TaskRecovery(Vertx vertx, TaskStore store, TaskPlacement placement, String nodeId, Predicate<String> tracked,
                 Function<TaskRecord, Future<Void>> recoverHere, java.util.function.Consumer<String> followed) {
        this.vertx = vertx;
        this.store = store;
        this.placement = placement;
        this.nodeId = nodeId;
        this.tracked = tracked;
        this.recoverHere = recoverHere;
        this.followed = followed;
    }

    /** Adopts every unfinished task whose owner lock is free. */
    Future<Void> sweep() {
        if (sweeping) return Future.succeededFuture();
        sweeping = true;
        return vertx.executeBlocking(() -> store.loadAll().stream()
                        .filter(e -> e.record() != null && !e.record().state().isTerminal() && !tracked.test(e.taskId()))
                        .map(TaskStore.Entry::record).toList(), false)
                .compose(this::adoptAll)
                .eventually(() -> {
                    sweeping = false;
                    return Future.succeededFuture();
                });
    }

    private Future<Void> adoptAll(List<TaskRecord> candidates) {
        Future<Void> chain = Future.succeededFuture();
        for (TaskRecord r : candidates) {
            chain = chain.compose(v -> adopt(r).recover(e -> {
                LOG.warn("could not recover task {}: {}", r.id(), e.getMessage());
                return Future.succeededFuture();
            }));
        }
        return chain;
    }

    private Future<Void> adopt(TaskRecord candidate) {
        return vertx.eventBus().<JsonObject>request(Addresses.WORKER_OWN, new JsonObject().put("task_id", candidate.id())).compose(reply -> {
            if (!reply.body().getBoolean("owned", false) || tracked.test(candidate.id())) return Future.succeededFuture();
            // re-read under the lock: the previous owner may have finished it meanwhile
            return vertx.executeBlocking(() -> store.load(candidate.id()).orElse(null), false).compose(fresh -> {
                if (fresh == null || fresh.state().isTerminal()) return disown(candidate.id());
                if (fresh.node() != null && !fresh.node().equals(nodeId)) return follow(fresh);
                LOG.info("recovering task {} ({})", fresh.id(), fresh.state().wireName());
                return recoverHere.apply(fresh);
            });
        });
    }

    /**
     * A task placed on another node before this process restarted: the placement follows it, or it
     * is recovered here. A placement that cannot answer yet (it deploys after the task manager)
     * fails: the task waits for the next sweep.
     */
    private Future<Void> follow(TaskRecord r) {
        return placement.follow(r).transform(ar -> {
            if (ar.succeeded() && ar.result()) {
                followed.accept(r.id());
                return disown(r.id());
            }
            if (ar.failed()) {
                LOG.debug("task {} on node {}: placement cannot follow it yet ({})", r.id(), r.node(), ar.cause().getMessage());
                return disown(r.id());
            }
            return recoverHere.apply(r);
        });
    }

    private Future<Void> disown(String id) {
        return vertx.eventBus().request(Addresses.WORKER_DISOWN, new JsonObject().put("task_id", id)).mapEmpty();
    }
}
