package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.AllowedDomains;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The host-side egress proxy of network {@code allowlist}. Each task gets a listener of its own on
 * 127.0.0.1 (its guest reaches it through QEMU's forwarded channel, so the port says which task is
 * asking); it speaks HTTP proxy: {@code CONNECT host:port} for HTTPS and absolute-form requests
 * ({@code GET http://host/...}) for plain HTTP. A host that is not on the task's list, is an IP
 * address, or resolves to an address of this host is refused with 403, and each refusal becomes a
 * {@value EventTypes#NETWORK_DENIED} event naming the task and the host. Allowed connections are
 * piped through untouched. Name resolution (blocking) runs on a worker thread; everything else
 * on this verticle's event loop.
 */
public final class EgressProxyVerticle extends VerticleBase {
    private static final Logger LOG = LoggerFactory.getLogger(EgressProxyVerticle.class);
    private static final int MAX_HEAD = 16 * 1024;
    /** A guest retrying in a loop must not flood the event log: later refusals are only counted. */
    static final int MAX_EVENTS_PER_TASK = 500;

    /** Name → address; blocking (called on a worker thread). A seam for tests' names. */
    public interface Resolver {
        InetAddress resolve(String host) throws java.io.IOException;
    }

    private final Resolver resolver;
    private final Map<String, Listener> listeners = new ConcurrentHashMap<>();
    private NetClient client;

    private record Listener(NetServer server, AllowedDomains domains, AtomicInteger denied) {}

    public EgressProxyVerticle() {
        this(InetAddress::getByName);
    }

    public EgressProxyVerticle(Resolver resolver) {
        this.resolver = resolver;
    }

    @Override
    public Future<?> start() {
        client = vertx.createNetClient(new NetClientOptions().setConnectTimeout(15_000));
        return Future.all(
                vertx.eventBus().<JsonObject>localConsumer(Addresses.EGRESS_OPEN, this::open).completion(),
                vertx.eventBus().<JsonObject>localConsumer(Addresses.EGRESS_CLOSE, this::close).completion());
    }

    @Override
    public Future<?> stop() {
        listeners.values().forEach(l -> l.server().close());
        listeners.clear();
        return Future.succeededFuture();
    }

    private void open(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        AllowedDomains domains;
        try {
            JsonArray list = msg.body().getJsonArray("domains", new JsonArray());
            domains = AllowedDomains.of(list.stream().map(String::valueOf).toList(), "allowed_domains of task " + taskId);
        } catch (IllegalArgumentException e) {
            msg.fail(400, e.getMessage());
            return;
        }
        Listener existing = listeners.get(taskId);
        if (existing != null) {
            msg.reply(new JsonObject().put("port", existing.server().actualPort()));
            return;
        }
        int port = msg.body().getInteger("port", 0);
        NetServer server = vertx.createNetServer(new NetServerOptions().setHost("127.0.0.1").setPort(port));
        Listener listener = new Listener(server, domains, new AtomicInteger());
        server.connectHandler(s -> new Exchange(taskId, listener, s).start());
        server.listen().onComplete(ar -> {
            if (ar.failed()) {
                msg.fail(500, "egress proxy cannot listen on 127.0.0.1:" + port + ": " + ar.cause().getMessage());
                return;
            }
            listeners.put(taskId, listener);
            LOG.info("task {}: egress proxy on 127.0.0.1:{} allows {}", taskId, ar.result().actualPort(), domains);
            msg.reply(new JsonObject().put("port", ar.result().actualPort()));
        });
    }

    private void close(Message<JsonObject> msg) {
        Listener l = listeners.remove(msg.body().getString("task_id"));
        if (l != null) l.server().close();
        msg.reply(new JsonObject().put("closed", l != null));
    }

    /** One guest connection: read the request head, decide, then pipe or refuse. */
    private final class Exchange {
        private final String taskId;
        private final Listener listener;
        private final NetSocket guest;
        private Buffer head = Buffer.buffer();

        Exchange(String taskId, Listener listener, NetSocket guest) {
            this.taskId = taskId;
            this.listener = listener;
            this.guest = guest;
        }

        void start() {
            guest.handler(this::onData);
            guest.exceptionHandler(e -> guest.close());
        }

        private void onData(Buffer chunk) {
            head.appendBuffer(chunk);
            int end = indexOf(head, "\r\n\r\n");
            if (end < 0) {
                if (head.length() > MAX_HEAD) reply(431, "request head too large");
                return;
            }
            guest.pause();
            guest.handler(null);
            Request req;
            try {
                req = Request.parse(head.getString(0, end + 4, "ISO-8859-1"));
            } catch (IllegalArgumentException e) {
                reply(400, e.getMessage());
                return;
            }
            Buffer rest = head.getBuffer(end + 4, head.length());
            head = null;
            if (!listener.domains().allows(req.host())) {
                deny(req, "not on this task's allowlist " + listener.domains());
                return;
            }
            vertx.executeBlocking(() -> {
                InetAddress a = resolver.resolve(req.host());
                return isThisHost(a) ? null : a;
            }, false).onComplete(ar -> {
                if (ar.failed()) {
                    reply(502, "cannot resolve " + req.host() + ": " + ar.cause().getMessage());
                } else if (ar.result() == null) {
                    deny(req, "resolves to an address of the orchestrator's host");
                } else {
                    connect(req, ar.result(), rest);
                }
            });
        }

        private void connect(Request req, InetAddress address, Buffer rest) {
            client.connect(req.port(), address.getHostAddress()).onComplete(ar -> {
                if (ar.failed()) {
                    reply(502, "cannot connect to " + req.host() + ":" + req.port() + ": " + ar.cause().getMessage());
                    return;
                }
                NetSocket upstream = ar.result();
                if (req.connect()) {
                    guest.write("HTTP/1.1 200 Connection Established\r\n\r\n");
                } else {
                    upstream.write(Buffer.buffer(req.forwardedHead(), "ISO-8859-1"));
                }
                if (rest.length() > 0) upstream.write(rest);
                // from here on bytes only: a keep-alive client's later requests on this connection all
                // go to this same allowed host, whatever they name
                guest.pipeTo(upstream);
                upstream.pipeTo(guest);
                guest.resume();
            });
        }

        private void deny(Request req, String reason) {
            int n = listener.denied().incrementAndGet();
            if (n <= MAX_EVENTS_PER_TASK) {
                JsonObject data = new JsonObject().put("host", req.host()).put("port", req.port()).put("method", req.method())
                        .put("reason", reason);
                if (n == MAX_EVENTS_PER_TASK) data.put("note", "later refusals of this task are not recorded as events");
                vertx.eventBus().request(Addresses.WORKER_PERSIST, new JsonObject().put("event",
                                new JsonObject().put("type", EventTypes.NETWORK_DENIED).put("task_id", taskId).put("data", data)))
                        .onFailure(e -> LOG.warn("task {}: cannot record a refused connection to {}: {}", taskId, req.host(), e.getMessage()));
            }
            LOG.info("task {}: egress refused {} {}:{} ({})", taskId, req.method(), req.host(), req.port(), reason);
            reply(403, "network allowlist: " + req.host() + " is refused for this task (" + reason + ")");
        }

        private void reply(int status, String text) {
            byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
            String reason = switch (status) {
                case 400 -> "Bad Request";
                case 403 -> "Forbidden";
                case 431 -> "Request Header Fields Too Large";
                default -> "Bad Gateway";
            };
            guest.write("HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n");
            guest.end(Buffer.buffer(body));
        }
    }

    /** True for loopback, wildcard, link-local and every address of this host's interfaces. */
    static boolean isThisHost(InetAddress a) throws SocketException {
        return a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isLinkLocalAddress() || NetworkInterface.getByInetAddress(a) != null;
    }

    private static int indexOf(Buffer b, String needle) {
        byte[] n = needle.getBytes(StandardCharsets.ISO_8859_1);
        outer:
        for (int i = 0; i + n.length <= b.length(); i++) {
            for (int j = 0; j < n.length; j++) if (b.getByte(i + j) != n[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** The parts of a proxy request the decision needs, and the head to send upstream for plain HTTP. */
    record Request(String method, String host, int port, boolean connect, String forwardedHead) {
        static Request parse(String head) {
            int eol = head.indexOf("\r\n");
            String[] line = head.substring(0, eol).split(" ");
            if (line.length != 3 || !line[2].startsWith("HTTP/1.")) throw new IllegalArgumentException("not an HTTP/1.x proxy request");
            String method = line[0];
            if ("CONNECT".equals(method)) {
                // an IPv6 literal keeps its brackets: it is refused (and recorded) like any address
                int colon = line[1].lastIndexOf(':');
                if (colon <= 0 || colon < line[1].lastIndexOf(']')) throw new IllegalArgumentException("CONNECT needs host:port");
                return new Request(method, line[1].substring(0, colon), port(line[1].substring(colon + 1)), true, null);
            }
            if (!line[1].regionMatches(true, 0, "http://", 0, 7)) {
                throw new IllegalArgumentException("this is a proxy: send absolute http:// URLs, or CONNECT for https");
            }
            String rest = line[1].substring(7);
            int slash = rest.indexOf('/');
            String authority = slash < 0 ? rest : rest.substring(0, slash);
            String path = slash < 0 ? "/" : rest.substring(slash);
            if (authority.contains("@")) throw new IllegalArgumentException("unsupported authority in " + line[1]);
            int colon = authority.lastIndexOf(':');
            if (colon < authority.lastIndexOf(']')) colon = -1; // [v6] without a port
            String host = colon < 0 ? authority : authority.substring(0, colon);
            int port = colon < 0 ? 80 : port(authority.substring(colon + 1));
            StringBuilder fwd = new StringBuilder(method).append(' ').append(path).append(' ').append(line[2]).append("\r\n");
            for (String h : head.substring(eol + 2).split("\r\n")) {
                if (h.isEmpty()) continue;
                String name = h.substring(0, Math.max(0, h.indexOf(':'))).strip().toLowerCase(java.util.Locale.ROOT);
                if (name.equals("proxy-connection") || name.equals("proxy-authorization")) continue;
                fwd.append(h).append("\r\n");
            }
            return new Request(method, host, port, false, fwd.append("\r\n").toString());
        }

        private static int port(String s) {
            try {
                int p = Integer.parseInt(s);
                if (p < 1 || p > 65535) throw new NumberFormatException();
                return p;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid port '" + s + "'");
            }
        }
    }
}
