package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Ends a daemon that an MCP process started once it has had nothing to do for a while: no
 * unfinished task in the state directory (whoever runs it) and no attached MCP process, for the
 * whole idle period, or at once when its state directory was deleted. Deployed only for
 * {@code serve --auto-exit}; a daemon a person started stays.
 */
public final class DaemonIdleExit extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(DaemonIdleExit.class);

    private final java.nio.file.Path stateRoot;
    private final Duration idle;
    private final Runnable exit;
    private long idleSinceNanos = -1;
    private long timer;
    private boolean exiting;

    /** @param exit called once, on an event loop: must not block */
    public DaemonIdleExit(java.nio.file.Path stateRoot, Duration idle, Runnable exit) {
        this.stateRoot = stateRoot;
        this.idle = idle;
        this.exit = exit;
    }

    @Override
    public Future<?> start() {
        long period = Math.max(200, Math.min(5_000, idle.toMillis() / 3));
        timer = vertx.setPeriodic(period, t -> check());
        return Future.succeededFuture();
    }

    private void check() {
        if (exiting) return;
        if (!java.nio.file.Files.isDirectory(stateRoot)) {
            stop("its state directory " + stateRoot + " is gone");
            return;
        }
        Future<Boolean> tasks = vertx.eventBus().<JsonObject>request(Addresses.TASK_LIST, new JsonObject())
                .map(m -> m.body().getJsonArray("tasks", new JsonArray()).stream()
                        .anyMatch(t -> t instanceof JsonObject j && !TaskState.isTerminalWire(j.getString("status"))));
        Future<Boolean> clients = vertx.eventBus().<JsonObject>request(Addresses.DAEMON_CLIENTS, new JsonObject())
                .map(m -> m.body().getInteger("clients", 0) > 0);
        Future.all(tasks, clients).onComplete(ar -> {
            boolean busy = ar.failed() || tasks.result() || clients.result(); // unsure: stay
            long now = System.nanoTime();
            if (busy) {
                idleSinceNanos = -1;
            } else if (idleSinceNanos < 0) {
                idleSinceNanos = now;
            } else if (now - idleSinceNanos >= idle.toNanos()) {
                stop("no task and no client for " + idle.toSeconds() + " s");
            }
        });
    }

    private void stop(String why) {
        if (exiting) return;
        exiting = true;
        vertx.cancelTimer(timer);
        LOG.info("this daemon, started for a client that has gone, ends: {}", why);
        exit.run();
    }
}
