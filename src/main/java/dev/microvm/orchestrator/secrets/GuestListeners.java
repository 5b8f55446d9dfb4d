package dev.microvm.orchestrator.secrets;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The credential proxy's listeners for guests that cannot reach its loopback address: on a host
 * address of the guest's network (vfkit NAT: the vmnet gateway, which exists only once a VM runs,
 * so binding is retried until it appears), or on a task's unix socket (vfkit vsock), relayed to the
 * loopback listener. Every one serves the same handler: each request is authenticated by its
 * task's placeholder, never by where it came from. A wildcard address is refused.
 */
final class GuestListeners {
    private static final Logger LOG = LoggerFactory.getLogger(GuestListeners.class);
    private static final Pattern IPV4 = Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    static final Duration BIND_PATIENCE = Duration.ofSeconds(30);
    private static final long RETRY_MS = 250;

    private final Vertx vertx;
    private final Handler<HttpServerRequest> handler;
    private final Duration patience;
    /** address:port → its listener, shared by the tasks that use it */
    private final Map<String, Future<HttpServer>> onAddress = new HashMap<>();
    /** task → the address:port it uses */
    private final Map<String, String> addressOfTask = new HashMap<>();
    private final Map<String, UnixSocketRelay> relayOfTask = new HashMap<>();

    GuestListeners(Vertx vertx, Handler<HttpServerRequest> handler, Duration patience) {
        this.vertx = vertx;
        this.handler = handler;
        this.patience = patience;
    }

    /** The proxy on {@code address}:{@code port} for {@code taskId}; fails for a wildcard or a name, or when the address never appears. */
    Future<String> listenOnAddress(String taskId, String address, int port) {
        if (!IPV4.matcher(address).matches()) return Future.failedFuture(new IllegalArgumentException("not an IPv4 address: " + address));
        if (address.equals("0.0.0.0")) {
            return Future.failedFuture(new IllegalArgumentException("the API proxy must not listen on every interface: " + address));
        }
        String key = address + ":" + port;
        addressOfTask.put(taskId, key);
        Future<HttpServer> listener = onAddress.computeIfAbsent(key, k -> bindWhenPresent(address, port, System.nanoTime() + patience.toNanos())
                .onFailure(e -> onAddress.remove(k)));
        return listener.map(s -> key);
    }

    /** Binds as soon as the host holds {@code address} (a vmnet bridge appears when its first VM starts). */
    private Future<HttpServer> bindWhenPresent(String address, int port, long deadline) {
        Promise<HttpServer> done = Promise.promise();
        attempt(address, port, deadline, done);
        return done.future();
    }

    private void attempt(String address, int port, long deadline, Promise<HttpServer> done) {
        vertx.createHttpServer(new HttpServerOptions().setHost(address).setPort(port).setMaxHeaderSize(64 * 1024))
                .requestHandler(handler).listen()
                .onSuccess(s -> {
                    LOG.info("API proxy also listening on {}:{} for guests on that network", address, s.actualPort());
                    done.complete(s);
                })
                .onFailure(e -> {
                    if (System.nanoTime() >= deadline) {
                        done.fail(new IOException("the API proxy could not listen on " + address + ":" + port + " within "
                                + patience.toSeconds() + " s (" + e.getMessage() + "); the guest's network did not come up on this host", e));
                    } else {
                        vertx.setTimer(RETRY_MS, t -> attempt(address, port, deadline, done));
                    }
                });
    }

    /** The proxy on {@code socket} for {@code taskId}, relayed to its loopback listener. */
    Future<String> listenOnUnixSocket(String taskId, Path socket, InetSocketAddress loopback) {
        return vertx.executeBlocking(() -> UnixSocketRelay.open(socket, loopback)).map(relay -> {
            UnixSocketRelay old = relayOfTask.put(taskId, relay);
            if (old != null && !old.socket().equals(socket)) closeQuietly(old);
            LOG.info("task {}: API proxy also reachable on {}", taskId, socket);
            return socket.toString();
        });
    }

    /** Closes what only {@code taskId} used. */
    void release(String taskId) {
        UnixSocketRelay relay = relayOfTask.remove(taskId);
        if (relay != null) vertx.executeBlocking(() -> {
            closeQuietly(relay);
            return null;
        });
        String address = addressOfTask.remove(taskId);
        if (address != null && !addressOfTask.containsValue(address)) {
            Future<HttpServer> listener = onAddress.remove(address);
            if (listener != null) listener.onSuccess(HttpServer::close);
        }
    }

    /** On undeploy: every relay and its socket goes (the HTTP listeners close with Vert.x). */
    Future<Void> closeRelays() {
        java.util.List<UnixSocketRelay> open = java.util.List.copyOf(relayOfTask.values());
        relayOfTask.clear();
        return vertx.executeBlocking(() -> {
            open.forEach(GuestListeners::closeQuietly);
            return null;
        });
    }

    private static void closeQuietly(UnixSocketRelay relay) {
        try {
            relay.close();
        } catch (IOException e) {
            LOG.debug("closing {}: {}", relay.socket(), e.toString());
        }
    }
}
