package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.vm.DriverFingerprint;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * Keeps this node's {@link DriverFingerprint}: checked when the node starts (it is up only once the
 * first check is done) and every minute after, off the event loop. Answers
 * {@link Addresses#NODE_DRIVER}; {@link #current} is what the task manager consults before it takes
 * a task.
 */
public final class DriverHealthVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(DriverHealthVerticle.class);
    static final long INTERVAL_MS = 60_000;

    private final Callable<DriverFingerprint> check;
    private volatile DriverFingerprint current;
    /** The check started last, until it is complete; event loop only. */
    private Future<DriverFingerprint> running;
    /** Checks started, and the number of the one whose result is {@link #current}; event loop only. */
    private long started;
    private long shown;
    private long timer = -1;

    /** @param check computes a fingerprint; blocking */
    public DriverHealthVerticle(Callable<DriverFingerprint> check) {
        this.check = Objects.requireNonNull(check, "check");
    }

    @Override
    public Future<?> start() {
        return recheck()
                .compose(f -> vertx.eventBus().<JsonObject>localConsumer(Addresses.NODE_DRIVER, this::onRequest).completion())
                .onSuccess(v -> timer = vertx.setPeriodic(INTERVAL_MS, id -> recheck()));
    }

    @Override
    public Future<?> stop() {
        if (timer >= 0) vertx.cancelTimer(timer);
        return Future.succeededFuture();
    }

    /** The last fingerprint (never null once deployed). Any thread. */
    public DriverFingerprint current() {
        return current;
    }

    private void onRequest(Message<JsonObject> msg) {
        boolean again = msg.body() != null && msg.body().getBoolean("recheck", false);
        (again ? recheckAfterRequest() : Future.succeededFuture(current)).onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result().toJson());
            else msg.fail(500, "driver check failed: " + ar.cause().getMessage());
        });
    }

    /** A check that looks at the driver after this moment: one already running may have looked before it. */
    private Future<DriverFingerprint> recheckAfterRequest() {
        Future<DriverFingerprint> before = running;
        return before == null || before.isComplete() ? recheck() : before.transform(x -> recheck());
    }

    /**
     * One check at a time; a request arriving meanwhile gets the running one's result. Event loop.
     * The check may be done on its worker before this method registers its listener (then the
     * listener runs at once, inside {@code onComplete}): {@link #running} is set before, and a
     * complete check is never handed out as a running one.
     */
    private Future<DriverFingerprint> recheck() {
        if (running != null && !running.isComplete()) return running;
        long number = ++started;
        Future<DriverFingerprint> checking = vertx.executeBlocking(check, false);
        running = checking;
        return checking.onComplete(ar -> {
            if (running == checking) running = null;
            if (ar.failed()) {
                LOG.warn("driver check failed: {}", ar.cause().toString());
                return;
            }
            if (number < shown) return; // a later check is already shown
            shown = number;
            DriverFingerprint before = current;
            current = ar.result();
            if (before == null || before.healthy() != current.healthy()) {
                if (current.healthy()) LOG.info("driver {}: {}", current.driver(), current.detail());
                else LOG.warn("driver {} cannot boot a guest; this node takes no new task: {}", current.driver(), current.detail());
            }
        });
    }
}
