package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Used by {@code microvm-orchestrator mcp}: when a daemon serves this state directory, a small
 * Vert.x instance attached to it over the local channel, so the stdio process hosts only the MCP
 * server and every session on the host shares the daemon's tasks, slots and events.
 */
public final class DaemonAttach {

    private static final Logger LOG = LoggerFactory.getLogger(DaemonAttach.class);
    /** A live daemon on a loaded host may answer slowly; falling back too early splits the host in two nodes. */
    static final long CONNECT_TIMEOUT_MS = 10_000;

    private DaemonAttach() {}

    /** A Vert.x attached to the running daemon, or empty when none answers (run embedded then). */
    public static Optional<Vertx> attach(StatePaths paths) {
        Optional<DaemonEndpoint> endpoint = DaemonEndpoint.find(paths);
        if (endpoint.isEmpty()) return Optional.empty();
        Vertx vertx = Vertx.vertx();
        try {
            vertx.deployVerticle(new DaemonClientVerticle(paths, endpoint.get(), CONNECT_TIMEOUT_MS))
                    .toCompletionStage().toCompletableFuture().get(CONNECT_TIMEOUT_MS + 1_000, TimeUnit.MILLISECONDS);
            return Optional.of(vertx);
        } catch (Exception e) {
            LOG.warn("a daemon is registered on port {} but did not accept this process ({}); running embedded",
                    endpoint.get().port(), e.getCause() == null ? e.toString() : e.getCause().getMessage());
            vertx.close();
            return Optional.empty();
        }
    }
}
