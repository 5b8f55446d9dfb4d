package dev.microvm.orchestrator.mcp;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;

import java.time.Duration;

/** One event-bus request with a JSON body and a JSON reply. */
final class BusClient {

    private final Vertx vertx;
    private final Duration timeout;

    BusClient(Vertx vertx, Duration timeout) {
        this.vertx = vertx;
        this.timeout = timeout;
    }

    Duration timeout() {
        return timeout;
    }

    Future<JsonObject> request(String address, JsonObject body) {
        return request(address, body, timeout);
    }

    Future<JsonObject> request(String address, JsonObject body, Duration timeout) {
        return request(address, body, timeout, NO_HANDLER_RETRIES);
    }

    /** The node may still be starting (it starts beside the MCP server): wait for its consumers a while. */
    private static final int NO_HANDLER_RETRIES = 50;
    private static final long NO_HANDLER_DELAY_MS = 100;

    private Future<JsonObject> request(String address, JsonObject body, Duration timeout, int retries) {
        DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeout.toMillis());
        return vertx.eventBus().<Object>request(address, body, options).map(BusClient::jsonBody).recover(e -> {
            if (retries > 0 && e instanceof io.vertx.core.eventbus.ReplyException re
                    && re.failureType() == io.vertx.core.eventbus.ReplyFailure.NO_HANDLERS) {
                return vertx.timer(NO_HANDLER_DELAY_MS).compose(v -> request(address, body, timeout, retries - 1));
            }
            return Future.failedFuture(e);
        });
    }

    private static JsonObject jsonBody(Message<Object> reply) {
        Object body = reply.body();
        if (body instanceof JsonObject o) return o;
        if (body == null) return new JsonObject();
        if (body instanceof String s && s.strip().startsWith("{")) return new JsonObject(s);
        return new JsonObject().put("value", body);
    }
}
