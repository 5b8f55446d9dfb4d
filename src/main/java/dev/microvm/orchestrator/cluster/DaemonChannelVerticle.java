package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.AccessToken;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The daemon's side of the local channel (see {@link DaemonProtocol}): listens on loopback,
 * admits clients that present the state directory's daemon token, forwards their requests onto
 * this node's event bus and streams every event back to them. Publishes its endpoint once it
 * listens and withdraws it on stop.
 */
public final class DaemonChannelVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(DaemonChannelVerticle.class);

    private final StatePaths paths;
    private final String nodeId;
    private final Set<NetSocket> admitted = ConcurrentHashMap.newKeySet();
    private AccessToken token;
    private NetServer server;
    private MessageConsumer<Object> events;
    private MessageConsumer<JsonObject> clients;
    private DaemonEndpoint endpoint;

    public DaemonChannelVerticle(StatePaths paths, String nodeId) {
        this.paths = paths;
        this.nodeId = nodeId;
    }

    @Override
    public Future<?> start() {
        clients = vertx.eventBus().localConsumer(Addresses.DAEMON_CLIENTS, m -> m.reply(new JsonObject().put("clients", admitted.size())));
        events = vertx.eventBus().localConsumer(Addresses.EVENTS, m -> {
            if (!(m.body() instanceof JsonObject body)) return;
            var frame = DaemonProtocol.frame(new JsonObject().put("type", "event").put("body", body));
            admitted.forEach(s -> {
                if (!s.writeQueueFull()) s.write(frame);
                // a client that does not read its events loses some; it re-reads the event log anyway
            });
        });
        return vertx.executeBlocking(() -> DaemonEndpoint.token(paths), false)
                .compose(t -> {
                    token = t;
                    server = vertx.createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(0));
                    server.connectHandler(this::accept);
                    return server.listen();
                })
                .compose(s -> {
                    endpoint = new DaemonEndpoint("127.0.0.1", s.actualPort(), ProcessHandle.current().pid(), nodeId);
                    return vertx.executeBlocking(() -> {
                        endpoint.write(paths);
                        return null;
                    }, false);
                })
                .onSuccess(v -> LOG.info("daemon channel on 127.0.0.1:{}", endpoint.port()));
    }

    public int port() {
        return endpoint == null ? -1 : endpoint.port();
    }

    private void accept(NetSocket socket) {
        long helloTimer = vertx.setTimer(DaemonProtocol.HELLO_TIMEOUT_MS, id -> {
            if (!admitted.contains(socket)) socket.close();
        });
        RecordParser parser = RecordParser.newDelimited("\n").maxRecordSize(DaemonProtocol.MAX_FRAME);
        parser.exceptionHandler(e -> socket.close());
        parser.handler(line -> {
            JsonObject frame;
            try {
                frame = line.toJsonObject();
            } catch (RuntimeException e) {
                socket.close();
                return;
            }
            if (!admitted.contains(socket)) {
                if ("hello".equals(frame.getString("type")) && token.matches(frame.getString("token"))) {
                    vertx.cancelTimer(helloTimer);
                    admitted.add(socket);
                    socket.write(DaemonProtocol.frame(new JsonObject().put("type", "welcome").put("node_id", nodeId)));
                } else {
                    LOG.warn("refused a local client without the daemon token");
                    socket.close();
                }
                return;
            }
            if ("request".equals(frame.getString("type"))) forward(socket, frame);
        });
        socket.handler(parser);
        socket.closeHandler(v -> admitted.remove(socket));
        socket.exceptionHandler(e -> socket.close());
    }

    private void forward(NetSocket socket, JsonObject frame) {
        Object id = frame.getValue("id");
        String address = frame.getString("address");
        if (!DaemonProtocol.FORWARDED.contains(address)) {
            socket.write(DaemonProtocol.frame(new JsonObject().put("type", "fail").put("id", id).put("code", 403)
                    .put("message", "address '" + address + "' is not reachable through the daemon channel")));
            return;
        }
        JsonObject body;
        try {
            body = frame.getJsonObject("body", new JsonObject());
        } catch (ClassCastException e) {
            socket.write(DaemonProtocol.frame(new JsonObject().put("type", "fail").put("id", id).put("code", Replies.BAD_REQUEST)
                    .put("message", "the request body must be a JSON object")));
            return;
        }
        vertx.eventBus().<Object>request(address, body, new DeliveryOptions().setSendTimeout(DaemonProtocol.REQUEST_TIMEOUT_MS))
                .onComplete(ar -> {
                    JsonObject out = new JsonObject().put("id", id);
                    if (ar.succeeded()) {
                        Object reply = ar.result().body();
                        out.put("type", "reply").put("body", reply instanceof JsonObject j ? j : new JsonObject().put("value", reply));
                    } else {
                        out.put("type", "fail").put("code", Replies.codeOf(ar.cause())).put("message", Replies.messageOf(ar.cause()));
                    }
                    if (admitted.contains(socket)) socket.write(DaemonProtocol.frame(out));
                });
    }

    @Override
    public Future<?> stop() {
        DaemonEndpoint e = endpoint;
        Future<Void> withdrawn = e == null ? Future.succeededFuture()
                : vertx.executeBlocking(() -> {
                    e.withdraw(paths);
                    return null;
                }, false);
        return withdrawn.compose(v -> clients.unregister()).compose(v -> events.unregister()).compose(v -> server == null ? Future.succeededFuture() : server.close());
    }
}
