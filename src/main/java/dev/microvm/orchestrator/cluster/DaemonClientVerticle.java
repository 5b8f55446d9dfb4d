package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The MCP process's side of the local channel (see {@link DaemonProtocol}). Registers local
 * consumers for every forwarded address, so the {@code McpVerticle} talks to its own event bus as
 * in embedded mode, and re-publishes the daemon's events on {@link Addresses#EVENTS}.
 *
 * <p>When the connection drops, every request in flight fails at once (no waiting for a timeout)
 * and the client reconnects to whichever daemon the endpoint file names next; requests made while
 * disconnected fail with a message that says so.
 */
public final class DaemonClientVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(DaemonClientVerticle.class);
    private static final long RECONNECT_MS = 1_000;

    private final StatePaths paths;
    private final DaemonEndpoint first;
    private final long connectTimeoutMs;
    private final Map<Long, Message<Object>> pending = new HashMap<>();
    private final List<MessageConsumer<Object>> consumers = new ArrayList<>();
    private NetSocket socket;
    private long nextId;
    private long reconnectTimer = -1;
    private boolean stopping;
    private String daemonNodeId;

    public DaemonClientVerticle(StatePaths paths, DaemonEndpoint endpoint, long connectTimeoutMs) {
        this.paths = paths;
        this.first = endpoint;
        this.connectTimeoutMs = connectTimeoutMs;
    }

    /** Fails if the daemon cannot be reached or refuses the token: the caller then runs embedded. */
    @Override
    public Future<?> start() {
        for (String address : DaemonProtocol.FORWARDED) {
            consumers.add(vertx.eventBus().localConsumer(address, m -> send(address, m)));
        }
        return vertx.executeBlocking(() -> DaemonEndpoint.token(paths).reveal(), false)
                .compose(token -> connect(first, token));
    }

    private Future<Void> connect(DaemonEndpoint endpoint, String token) {
        Promise<Void> welcomed = Promise.promise();
        vertx.createNetClient(new NetClientOptions().setConnectTimeout((int) connectTimeoutMs))
                .connect(endpoint.port(), endpoint.host())
                .onFailure(welcomed::tryFail)
                .onSuccess(s -> {
                    long timer = vertx.setTimer(connectTimeoutMs, id -> {
                        if (welcomed.tryFail("the daemon did not answer within " + connectTimeoutMs + " ms")) s.close();
                    });
                    RecordParser parser = RecordParser.newDelimited("\n").maxRecordSize(DaemonProtocol.MAX_FRAME);
                    parser.exceptionHandler(e -> s.close());
                    parser.handler(line -> {
                        JsonObject frame = line.toJsonObject();
                        if ("welcome".equals(frame.getString("type"))) {
                            vertx.cancelTimer(timer);
                            daemonNodeId = frame.getString("node_id");
                            socket = s;
                            welcomed.tryComplete();
                        } else {
                            onFrame(frame);
                        }
                    });
                    s.handler(parser);
                    s.closeHandler(v -> {
                        vertx.cancelTimer(timer);
                        welcomed.tryFail("the daemon closed the connection (wrong token?)");
                        if (socket == s) lost();
                    });
                    s.write(DaemonProtocol.frame(new JsonObject().put("type", "hello").put("token", token)));
                });
        return welcomed.future().onSuccess(v -> LOG.info("attached to daemon {} on port {}", daemonNodeId, endpoint.port()));
    }

    private void send(String address, Message<Object> m) {
        if (socket == null) {
            m.fail(503, "the orchestrator daemon is not reachable (it stopped or restarts); try again in a moment");
            return;
        }
        long id = ++nextId;
        pending.put(id, m);
        JsonObject body = m.body() instanceof JsonObject j ? j : new JsonObject();
        socket.write(DaemonProtocol.frame(new JsonObject().put("type", "request").put("id", id).put("address", address).put("body", body)));
    }

    private void onFrame(JsonObject frame) {
        switch (frame.getString("type", "")) {
            case "event" -> vertx.eventBus().publish(Addresses.EVENTS, frame.getJsonObject("body"));
            case "reply" -> Optional.ofNullable(pending.remove(frame.getLong("id"))).ifPresent(m -> m.reply(frame.getJsonObject("body")));
            case "fail" -> Optional.ofNullable(pending.remove(frame.getLong("id")))
                    .ifPresent(m -> m.fail(frame.getInteger("code", 500), frame.getString("message")));
            default -> { }
        }
    }

    private void lost() {
        socket = null;
        List<Message<Object>> inFlight = new ArrayList<>(pending.values());
        pending.clear();
        inFlight.forEach(m -> m.fail(503, "the connection to the orchestrator daemon was lost; the request may or may not have been carried out"));
        if (stopping) return;
        LOG.warn("lost the daemon connection; reconnecting");
        scheduleReconnect();
    }

    private void scheduleReconnect() {
        reconnectTimer = vertx.setTimer(RECONNECT_MS, id -> vertx.executeBlocking(() -> DaemonEndpoint.find(paths), false)
                .compose(ep -> ep.isEmpty() ? Future.failedFuture("no daemon running")
                        : vertx.executeBlocking(() -> DaemonEndpoint.token(paths).reveal(), false).compose(t -> connect(ep.get(), t)))
                .onFailure(e -> {
                    if (!stopping) scheduleReconnect();
                }));
    }

    @Override
    public Future<?> stop() {
        stopping = true;
        if (reconnectTimer >= 0) vertx.cancelTimer(reconnectTimer);
        List<Future<?>> all = new ArrayList<>();
        consumers.forEach(c -> all.add(c.unregister()));
        if (socket != null) all.add(socket.close());
        return Future.join(all);
    }
}
