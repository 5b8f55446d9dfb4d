package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Holds the real Anthropic credential on the host so it never enters a VM. A guest gets
 * {@code ANTHROPIC_BASE_URL} pointing here and a per-task placeholder as its API key; the proxy
 * accepts only that placeholder and only the Messages API paths Claude Code uses
 * ({@link ProxyRoutes}), swaps the placeholder for the real credential, streams the response back
 * as it arrives and meters the tokens into a {@code task.usage} event.
 *
 * <pre>
 * guest ──x-api-key: placeholder──► proxy ──x-api-key: real key / Authorization: Bearer token──► API
 *       ◄───────────────── SSE, chunk by chunk (usage read on the way) ─────────────────────────┘
 * </pre>
 *
 * Event-bus consumers are local: a task registers with the proxy of the host its VM runs on.
 */
public final class ApiProxyVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(ApiProxyVerticle.class);

    static final int MAX_REQUEST_BYTES = 40 * 1024 * 1024;

    private final ApiProxyConfig config;
    private final Credential credential;
    private final EventSink events;
    private final Redactor redactor;
    private final PlaceholderTokens tokens = new PlaceholderTokens();
    private final Map<String, UsageTotals> totals = new HashMap<>();
    private HttpClient client;
    private UpstreamRelay upstream;
    private HttpServer server;
    /** port → listener on a port a re-attached VM was booted with */
    private final Map<Integer, Future<HttpServer>> extraServers = new HashMap<>();
    /** task → the extra port it uses */
    private final Map<String, Integer> portOfTask = new HashMap<>();
    private GuestListeners guests;
    private java.time.Duration guestBindPatience = GuestListeners.BIND_PATIENCE;

    public ApiProxyVerticle(ApiProxyConfig config, Credential credential, EventSink events, Redactor redactor) {
        this.config = config;
        this.credential = credential;
        this.events = events;
        this.redactor = redactor;
    }

    /** How long a listener on a guest network's address waits for the address to appear (tests shorten it). */
    ApiProxyVerticle guestBindPatience(java.time.Duration patience) {
        this.guestBindPatience = patience;
        return this;
    }

    /** The port the proxy listens on (after start). */
    public int port() {
        return server == null ? -1 : server.actualPort();
    }

    @Override
    public Future<?> start() {
        redactor.register(credential.secret());
        client = vertx.createHttpClient(new HttpClientOptions()
                .setConnectTimeout(30_000)
                .setIdleTimeout(600)
                .setDecompressionSupported(false));
        upstream = new UpstreamRelay(client, config, credential, redactor, this::record);
        guests = new GuestListeners(vertx, this::handle, guestBindPatience);
        var bus = vertx.eventBus();
        var consumers = Future.all(
                bus.<JsonObject>localConsumer(Addresses.PROXY_REGISTER, this::onRegister).completion(),
                bus.<JsonObject>localConsumer(Addresses.PROXY_LISTEN, this::onListen).completion(),
                bus.<JsonObject>localConsumer(Addresses.PROXY_UNREGISTER, this::onUnregister).completion(),
                bus.<JsonObject>localConsumer(Addresses.PROXY_USAGE, this::onUsage).completion());
        return consumers.compose(v -> vertx.createHttpServer(new HttpServerOptions()
                        .setHost(config.bindHost())
                        .setPort(config.port())
                        .setMaxHeaderSize(64 * 1024))
                .requestHandler(this::handle)
                .listen())
                .onSuccess(s -> {
                    server = s;
                    LOG.info("API proxy listening on {}:{}, forwarding to {} with the {} credential from {}",
                            config.bindHost(), s.actualPort(), config.upstream(), credential.kind(), credential.source());
                });
    }

    // ---- event bus ----

    /**
     * {task_id, token?, port?}: a new task gets a fresh placeholder. A task re-attached by this
     * process brings the placeholder and proxy port its VM booted with; the proxy then listens on
     * that port as well, for as long as such a task is registered.
     */
    private void onRegister(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        Integer wanted = msg.body().getInteger("port");
        try {
            StatePaths.requireId(StatePaths.TASK_ID, taskId, "task id");
            if (wanted != null && (wanted < 1 || wanted > 65535)) throw new IllegalArgumentException("port out of range: " + wanted);
            Secret token = tokens.register(taskId, msg.body().getString("token"));
            redactor.register(token);
            totals.putIfAbsent(taskId, new UsageTotals());
            JsonObject reply = new JsonObject().put("token", token.reveal()).put("port", port());
            if (wanted == null || wanted == port()) {
                msg.reply(reply.put("route_restored", wanted != null));
                return;
            }
            portOfTask.put(taskId, wanted);
            extraListener(wanted).onComplete(ar -> msg.reply(reply.put("port", wanted).put("route_restored", ar.succeeded())
                    .put("detail", ar.succeeded() ? "listening on " + wanted : ar.cause().getMessage())));
        } catch (IllegalArgumentException e) {
            msg.fail(400, e.getMessage());
        }
    }

    /** One more listener, on the port a re-attached VM uses (shared by all such tasks). */
    private Future<HttpServer> extraListener(int port) {
        return extraServers.computeIfAbsent(port, p -> vertx.createHttpServer(new HttpServerOptions()
                        .setHost(config.bindHost()).setPort(p).setMaxHeaderSize(64 * 1024))
                .requestHandler(this::handle)
                .listen()
                .onSuccess(s -> LOG.info("API proxy also listening on {}:{} for re-attached VMs", config.bindHost(), p))
                .onFailure(e -> {
                    extraServers.remove(p);
                    LOG.warn("API proxy cannot listen on {}:{} for re-attached VMs: {}", config.bindHost(), p, e.getMessage());
                }));
    }

    /** {task_id, address | unix_socket}: see {@link Addresses#PROXY_LISTEN}. */
    private void onListen(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        try {
            StatePaths.requireId(StatePaths.TASK_ID, taskId, "task id");
        } catch (IllegalArgumentException e) {
            msg.fail(400, e.getMessage());
            return;
        }
        String address = msg.body().getString("address");
        String socket = msg.body().getString("unix_socket");
        if ((address == null) == (socket == null) || socket != null && !java.nio.file.Path.of(socket).isAbsolute()) {
            msg.fail(400, "proxy.listen needs an address or an absolute unix_socket path");
            return;
        }
        // a VM re-attached by this process keeps the port it booted with (PROXY_REGISTER opened it on loopback)
        int port = msg.body().getInteger("port", port());
        if (port < 1 || port > 65535) {
            msg.fail(400, "port out of range: " + port);
            return;
        }
        Future<String> listening = address != null
                ? guests.listenOnAddress(taskId, address, port)
                : guests.listenOnUnixSocket(taskId, java.nio.file.Path.of(socket), new InetSocketAddress(config.bindHost(), port));
        listening.onSuccess(l -> msg.reply(new JsonObject().put("listening", l)))
                .onFailure(e -> msg.fail(e instanceof IllegalArgumentException ? 400 : 503, e.getMessage()));
    }

    private void onUnregister(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        if (taskId != null) guests.release(taskId);
        Integer extra = portOfTask.remove(taskId == null ? "" : taskId);
        if (extra != null && !portOfTask.containsValue(extra)) {
            Future<HttpServer> listener = extraServers.remove(extra);
            if (listener != null) listener.onSuccess(HttpServer::close);
        }
        Optional<Secret> removed = tokens.unregister(taskId == null ? "" : taskId);
        removed.ifPresent(redactor::unregister);
        UsageTotals t = totals.remove(taskId);
        msg.reply(new JsonObject().put("removed", removed.isPresent())
                .put("usage", (t == null ? new UsageTotals() : t).toJson(taskId)));
    }

    private void onUsage(Message<JsonObject> msg) {
        String taskId = msg.body().getString("task_id");
        UsageTotals t = totals.get(taskId);
        if (t == null) {
            msg.fail(404, "no task registered with the API proxy: " + taskId);
        } else {
            msg.reply(t.toJson(taskId));
        }
    }

    // ---- HTTP ----

    private void handle(HttpServerRequest req) {
        String path = req.path();
        if (req.headers().contains(HttpHeaders.ORIGIN)) {
            // guests are not browsers; a browser page must not drive the proxy (DNS rebinding, CSRF)
            reject(req, 403, "permission_error", "browser requests are not accepted");
            return;
        }
        if (ProxyRoutes.isConnectivityCheck(req.method(), path)) {
            req.response().setStatusCode(200).end();
            return;
        }
        Optional<String> taskId = tokens.taskFor(presentedToken(req));
        if (taskId.isEmpty()) {
            reject(req, 401, "authentication_error", "invalid or missing proxy token");
            return;
        }
        if (!ProxyRoutes.isForwarded(req.method(), path)) {
            LOG.info("task {}: refused {} {}", taskId.get(), req.method(), printable(path));
            reject(req, 403, "permission_error", "this API path is not available through the proxy");
            return;
        }
        String declared = req.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (declared != null && parseLong(declared) > MAX_REQUEST_BYTES) {
            reject(req, 413, "request_too_large", "request body too large");
            return;
        }
        collectBody(req, taskId.get());
    }

    private void collectBody(HttpServerRequest req, String taskId) {
        Buffer body = Buffer.buffer();
        boolean[] tooLarge = {false};
        req.handler(chunk -> {
            if (tooLarge[0]) return;
            if (body.length() + chunk.length() > MAX_REQUEST_BYTES) {
                tooLarge[0] = true;
            } else {
                body.appendBuffer(chunk);
            }
        });
        req.endHandler(v -> {
            if (tooLarge[0]) {
                reject(req, 413, "request_too_large", "request body too large");
            } else {
                upstream.forward(req, taskId, body);
            }
        });
    }

    private void record(String taskId, Usage usage) {
        UsageTotals t = totals.get(taskId);
        if (t != null) t.add(usage);
        JsonObject data = usage.toJson().put("cost_is_estimate", true);
        if (t != null) data.put("total", t.toJson(taskId));
        // ordered: a later total is never appended before an earlier one
        vertx.executeBlocking(() -> events.appendAndPublish(EventTypes.TASK_USAGE, taskId, data))
                .onFailure(e -> LOG.warn("task {}: could not record API usage: {}", taskId, e.toString()));
    }

    // ---- helpers ----

    /** The placeholder from {@code x-api-key} or {@code Authorization: Bearer}. */
    private static String presentedToken(HttpServerRequest req) {
        String apiKey = req.getHeader("x-api-key");
        if (apiKey != null) return apiKey.strip();
        String auth = req.getHeader(HttpHeaders.AUTHORIZATION);
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) return auth.substring(7).strip();
        return null;
    }

    /** An error in the API's own shape, so Claude Code reports it sensibly. */
    static void reject(HttpServerRequest req, int status, String type, String message) {
        JsonObject body = new JsonObject().put("type", "error")
                .put("error", new JsonObject().put("type", type).put("message", message));
        HttpServerResponse out = req.response();
        if (out.ended() || out.closed()) return;
        out.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .putHeader(HttpHeaders.CONNECTION, "close").end(body.encode());
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    private static String printable(String s) {
        String t = s.replaceAll("[^\\x20-\\x7e]", "?");
        return t.length() > 100 ? t.substring(0, 100) + "..." : t;
    }

    @Override
    public Future<?> stop() {
        Future<?> relays = guests == null ? Future.succeededFuture() : guests.closeRelays();
        return relays.compose(v -> client == null ? Future.succeededFuture() : client.close());
    }
}
