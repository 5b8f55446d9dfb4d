package dev.microvm.orchestrator.events;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * Runs {@link EventRetention} a little after start and then every hour, on a worker thread. Every
 * process of a host may run it; the compaction lock lets one at a time work.
 */
public final class EventRetentionVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(EventRetentionVerticle.class);
    private static final Duration FIRST = Duration.ofSeconds(30);
    private static final Duration EVERY = Duration.ofHours(1);

    private final EventRetention retention;
    private boolean running;

    public EventRetentionVerticle(EventRetention retention) {
        this.retention = retention;
    }

    @Override
    public Future<?> start() {
        if (!retention.enabled()) return Future.succeededFuture();
        vertx.setTimer(FIRST.toMillis(), t -> {
            runOnce();
            vertx.setPeriodic(EVERY.toMillis(), p -> runOnce());
        });
        return Future.succeededFuture();
    }

    private void runOnce() {
        if (running) return;
        running = true;
        vertx.executeBlocking(retention::run, false).onComplete(ar -> {
            running = false;
            if (ar.failed()) LOG.warn("event log retention failed: {}", ar.cause().toString());
            else if (ar.result().droppedEvents() > 0) {
                LOG.info("event log retention: {} console events ({} bytes) compacted, through seq {}",
                        ar.result().droppedEvents(), ar.result().droppedBytes(), ar.result().markerSeq());
            }
        });
    }
}
