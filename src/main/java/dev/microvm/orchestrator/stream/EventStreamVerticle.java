package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.secrets.AccessToken;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.PrometheusScrapingHandler;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.BindException;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The live view: WebSocket event stream at {@code /events}, the REST API under {@code /api}, the
 * dashboard page at {@code /}, {@code /health} and Prometheus {@code /metrics}. Loopback only unless
 * {@link EventStreamOptions#allowRemote()} is set; every request passes {@link RequestGuard}.
 *
 * <p>WebSocket query: {@code since=N} (replay every event after N from the durable log, then go
 * live; without it the stream starts live), {@code task=id,id} and {@code type=task.log,task.*}
 * filters. See {@link EventSubscriber} for the frames.
 *
 * <p>Only one process per host serves HTTP on the port. When the port is taken this verticle still
 * starts, serves nothing and reports {@link Outcome#PORT_IN_USE}; the node decides what to tell.
 *
 * <p>For Vert.x's own HTTP and event-bus metrics on {@code /metrics}, create Vert.x with
 * {@link #metricsOptions()}; without it only the task and stream metrics are exported.
 */
public final class EventStreamVerticle extends VerticleBase {

    public enum Outcome { STARTING, SERVING, PORT_IN_USE }

    private static final Logger LOG = LoggerFactory.getLogger(EventStreamVerticle.class);

    private final EventStreamOptions options;
    private final StatePaths paths;
    private final EventLog log;

    private volatile Outcome outcome = Outcome.STARTING;
    private volatile int boundPort = -1;
    private volatile AccessToken token;

    private HttpServer server;
    private MessageConsumer<JsonObject> consumer;
    private TaskMetrics taskMetrics;
    private final Set<EventSubscriber> subscribers = new LinkedHashSet<>();
    /** Copy of {@link #subscribers} to iterate while a client may drop out (overrun). */
    private List<EventSubscriber> subscriberList = List.of();
    private final Set<EventSubscriber> toFlush = new LinkedHashSet<>();
    private boolean flushScheduled;

    public EventStreamVerticle(EventStreamOptions options, StatePaths paths) {
        this.options = options;
        this.paths = paths;
        this.log = new EventLog(paths.eventLog(), Clock.systemUTC());
    }

    /** Vert.x metrics options that put Vert.x's own meters into the Prometheus registry served here. */
    public static MicrometerMetricsOptions metricsOptions() {
        return new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
                .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true));
    }

    public Outcome outcome() {
        return outcome;
    }

    /** The bound port, or -1 when not serving. */
    public int port() {
        return boundPort;
    }

    /**
     * The dashboard link with the token in its query, for deliberate display to the user (CLI
     * output). It is a secret: never log it. The page swaps it for a cookie on first load.
     */
    public String dashboardLink() {
        if (outcome != Outcome.SERVING) throw new IllegalStateException("the dashboard is not served by this process");
        return "http://localhost:" + boundPort + "/?token=" + token.reveal();
    }

    @Override
    public Future<?> start() {
        return vertx.executeBlocking(() -> {
            if (!options.allowRemote() && !options.isLoopback()) {
                throw new IllegalArgumentException("refusing to serve the dashboard on non-loopback address '" + options.host()
                        + "': that makes it reachable from the network; enable remote access explicitly if you mean it");
            }
            return AccessToken.loadOrCreate(paths.httpTokenFile());
        }).compose(t -> {
            token = t;
            if (options.allowRemote()) {
                LOG.warn("dashboard bound to {}: reachable from the network, protected only by the access token and "
                        + "without TLS", options.host());
            }
            PrometheusMeterRegistry registry = prometheusRegistry();
            taskMetrics = new TaskMetrics(registry);
            Gauge.builder("mvo_event_stream_clients", subscribers, Set::size).register(registry);
            consumer = vertx.eventBus().consumer(Addresses.EVENTS, msg -> onEvent(msg.body()));
            replayMetrics(0);
            return consumer.completion().compose(v -> listen(router(registry)));
        });
    }

    @Override
    public Future<?> stop() {
        List.copyOf(subscribers).forEach(EventSubscriber::close);
        Future<Void> unregister = consumer == null ? Future.succeededFuture() : consumer.unregister();
        Future<Void> closed = server == null ? Future.succeededFuture() : server.close();
        return Future.all(unregister, closed);
    }

    private Router router(PrometheusMeterRegistry registry) {
        Router router = Router.router(vertx);
        router.route().handler(new RequestGuard(token, options.allowedHostNames(), () -> boundPort));
        router.route().handler(EventStreamVerticle::securityHeaders);
        router.get("/health").handler(ctx -> ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(new JsonObject().put("status", "ok").put("clients", subscribers.size())
                        .put("last_seq", taskMetrics.lastSequence()).encode()));
        router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
        router.get("/events").handler(this::upgrade);
        new RestApi(vertx.eventBus()).mount(router);
        router.get("/*").handler(StaticHandler.create("dashboard").setCachingEnabled(false)
                .setIndexPage("index.html").setDirectoryListing(false).setIncludeHidden(false));
        return router;
    }

    private Future<Void> listen(Router router) {
        // HTTP/1.1 only: an h2c upgrade (the JDK's HttpClient asks for one by default) would carry
        // the host in :authority instead of the Host header the guard checks, and be refused
        HttpServerOptions httpOptions = new HttpServerOptions().setHost(options.host()).setPort(options.port())
                .setHttp2ClearTextEnabled(false)
                .setMaxWebSocketMessageSize(64 * 1024).setMaxWebSocketFrameSize(64 * 1024);
        Promise<Void> done = Promise.promise();
        vertx.createHttpServer(httpOptions).requestHandler(router).listen().onComplete(ar -> {
            if (ar.succeeded()) {
                server = ar.result();
                boundPort = server.actualPort();
                outcome = Outcome.SERVING;
                LOG.info("dashboard and event stream at http://localhost:{}/ (token in the state directory, http/token)", boundPort);
                done.complete();
            } else if (isAddressInUse(ar.cause())) {
                outcome = Outcome.PORT_IN_USE;
                LOG.info("dashboard already served by another process on port {}; this process serves none", options.port());
                done.complete();
            } else {
                done.fail(ar.cause());
            }
        });
        return done.future();
    }

    private void upgrade(RoutingContext ctx) {
        Long since;
        try {
            String s = ctx.request().getParam("since");
            since = s == null || s.isEmpty() ? null : Long.parseLong(s);
            if (since != null && since < 0) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            RestApi.error(ctx, 400, "parameter 'since' must be a non-negative sequence number");
            return;
        }
        EventFilter filter = EventFilter.parse(ctx.request().getParam("task"), ctx.request().getParam("type"));
        ctx.request().toWebSocket().onSuccess(ws -> {
            EventSubscriber[] self = new EventSubscriber[1];
            self[0] = new EventSubscriber(ws, filter, since, options.maxQueuedEvents(), options.maxEventsPerFrame(),
                    (after, limit) -> vertx.executeBlocking(() -> log.readAfter(after, limit), false),
                    () -> vertx.executeBlocking(log::lastSequence, false),
                    () -> {
                        subscribers.remove(self[0]);
                        subscriberList = List.copyOf(subscribers);
                        toFlush.remove(self[0]);
                    });
            subscribers.add(self[0]);
            subscriberList = List.copyOf(subscribers);
            self[0].start();
        }).onFailure(e -> {
            if (!ctx.response().ended() && !ctx.response().headWritten()) {
                RestApi.error(ctx, 400, "/events is a WebSocket endpoint: " + e.getMessage());
            }
        });
    }

    private void onEvent(JsonObject json) {
        TaskEvent event;
        try {
            event = TaskEvent.fromJson(json);
        } catch (RuntimeException e) {
            LOG.warn("ignoring a malformed event on {}: {}", Addresses.EVENTS, e.toString());
            return;
        }
        taskMetrics.onLive(event);
        // encoded once, shared by every client's queue
        EventSubscriber.Item item = EventSubscriber.Item.event(event.seq(), event.type(), event.taskId(), json.encode());
        for (EventSubscriber s : subscriberList) {
            if (s.offer(item)) toFlush.add(s);
        }
        if (!toFlush.isEmpty() && !flushScheduled) {
            flushScheduled = true;
            vertx.setTimer(options.flushIntervalMs(), t -> flushAll());
        }
    }

    private void flushAll() {
        flushScheduled = false;
        List<EventSubscriber> batch = List.copyOf(toFlush);
        toFlush.clear();
        FrameCache frames = new FrameCache();
        for (EventSubscriber s : batch) s.flush(frames);
    }

    /** Rebuilds the task metrics from the durable log, page by page on a worker thread. */
    private void replayMetrics(long after) {
        vertx.executeBlocking(() -> log.readAfter(after, 5000), false).onComplete(ar -> {
            if (ar.failed()) {
                LOG.warn("cannot replay the event log for metrics: {}", ar.cause().toString());
                taskMetrics.replayDone();
                return;
            }
            List<TaskEvent> page = ar.result();
            taskMetrics.replay(page);
            if (page.size() < 5000) taskMetrics.replayDone();
            else replayMetrics(page.get(page.size() - 1).seq());
        });
    }

    private PrometheusMeterRegistry prometheusRegistry() {
        MeterRegistry vertxRegistry = BackendRegistries.getDefaultNow();
        if (vertxRegistry instanceof PrometheusMeterRegistry prometheus) return prometheus;
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    private static void securityHeaders(RoutingContext ctx) {
        ctx.response()
                .putHeader("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                        + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Referrer-Policy", "no-referrer")
                .putHeader("X-Frame-Options", "DENY")
                .putHeader(HttpHeaders.CACHE_CONTROL, "no-store");
        ctx.next();
    }

    private static boolean isAddressInUse(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BindException) return true;
            if (c.getMessage() != null && c.getMessage().contains("Address already in use")) return true;
        }
        return false;
    }
}
