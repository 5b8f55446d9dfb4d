package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The read-only REST API under {@code /api}: each request becomes one event-bus request to the
 * component that owns the data, and its JSON reply is returned as is.
 *
 * <pre>
 * GET /api/tasks?status=&amp;repo=                      → {tasks:[...]}
 * GET /api/tasks/{id}                                → task record
 * GET /api/tasks/{id}/log?offset=&amp;tail=&amp;limit=&amp;stream= → {content, offset, next_offset, size}
 * GET /api/tasks/{id}/diff?offset=&amp;limit=             → {diff, files, next_offset, ...}
 * GET /api/slots | /api/repos | /api/nodes
 * </pre>
 * Errors are {@code {"error": "..."}} with 400 (bad input), 404 (unknown task), 503 (nobody
 * answers on this node), 504 (timed out) or the status code the owner replied with.
 */
final class RestApi {

    private static final long TIMEOUT_MS = 10_000;

    private final EventBus bus;

    RestApi(EventBus bus) {
        this.bus = bus;
    }

    void mount(Router router) {
        router.get("/api/tasks").handler(ctx -> ask(ctx, Addresses.TASK_LIST,
                copy(ctx, new JsonObject(), "status", "repo")));
        router.get("/api/tasks/:id").handler(ctx -> withTask(ctx, Addresses.TASK_GET));
        router.get("/api/tasks/:id/log").handler(ctx -> withTask(ctx, Addresses.TASK_LOGS, "offset", "tail", "limit", "stream"));
        router.get("/api/tasks/:id/diff").handler(ctx -> withTask(ctx, Addresses.TASK_DIFF, "offset", "limit"));
        router.get("/api/slots").handler(ctx -> ask(ctx, Addresses.SLOT_LIST, new JsonObject()));
        router.get("/api/repos").handler(ctx -> ask(ctx, Addresses.REPO_LIST, new JsonObject()));
        router.get("/api/nodes").handler(ctx -> ask(ctx, Addresses.NODE_LIST, new JsonObject()));
        router.route("/api/*").handler(ctx -> error(ctx, 404, "no such API endpoint: " + ctx.request().path()));
    }

    private void withTask(RoutingContext ctx, String address, String... params) {
        String id = ctx.pathParam("id");
        if (id == null || !StatePaths.TASK_ID.matcher(id).matches()) {
            error(ctx, 400, "invalid task id: expected " + StatePaths.TASK_ID.pattern());
            return;
        }
        JsonObject body = new JsonObject().put("task_id", id);
        try {
            for (String p : params) {
                String v = ctx.request().getParam(p);
                if (v == null) continue;
                if (p.equals("stream")) body.put(p, v);
                else body.put(p, parseNonNegative(p, v));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, e.getMessage());
            return;
        }
        ask(ctx, address, body);
    }

    private void ask(RoutingContext ctx, String address, JsonObject body) {
        bus.<JsonObject>request(address, body, new DeliveryOptions().setSendTimeout(TIMEOUT_MS)).onComplete(ar -> {
            if (ctx.response().ended()) return;
            if (ar.succeeded()) {
                Object reply = ar.result().body();
                ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                        .end(reply instanceof JsonObject json ? json.encode() : String.valueOf(reply));
            } else if (ar.cause() instanceof ReplyException re) {
                switch (re.failureType()) {
                    case NO_HANDLERS -> error(ctx, 503, "not available on this node (" + address + " has no handler)");
                    case TIMEOUT -> error(ctx, 504, "timed out waiting for " + address);
                    default -> FailureReason.fromCode(re.failureCode()).ifPresentOrElse(
                            reason -> error(ctx, statusOf(reason), String.valueOf(re.getMessage()), reason),
                            () -> error(ctx, re.failureCode() >= 400 && re.failureCode() < 600 ? re.failureCode() : 502,
                                    String.valueOf(re.getMessage())));
                }
            } else {
                error(ctx, 502, String.valueOf(ar.cause().getMessage()));
            }
        });
    }

    private static JsonObject copy(RoutingContext ctx, JsonObject body, String... params) {
        for (String p : params) {
            String v = ctx.request().getParam(p);
            if (v != null && !v.isEmpty()) body.put(p, v);
        }
        return body;
    }

    private static long parseNonNegative(String name, String value) {
        try {
            long v = Long.parseLong(value);
            if (v >= 0) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("parameter '" + name + "' must be a non-negative integer");
    }

    static void error(RoutingContext ctx, int status, String message) {
        error(ctx, status, message, null);
    }

    private static void error(RoutingContext ctx, int status, String message, FailureReason reason) {
        JsonObject body = new JsonObject().put("error", message);
        if (reason != null) body.put("reason", reason.wireName());
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json").end(body.encode());
    }

    /** The HTTP status of a failure that carries a reason: the caller's fault, this node's, or the operation's. */
    static int statusOf(FailureReason reason) {
        return switch (reason) {
            case INVALID_REQUEST, INVALID_TASK_ID, INVALID_PAGE -> 400;
            case REQUEST_EXPIRED -> 408;
            case DRIVER_UNHEALTHY, NODE_LOST, SLOT_UNAVAILABLE -> 503;
            case INTERNAL_ERROR, UNKNOWN -> 500;
            default -> 422;
        };
    }
}
