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
        DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeout.toMillis());
        return vertx.eventBus().<Object>request(address, body, options).map(BusClient::jsonBody);
    }

    private static JsonObject jsonBody(Message<Object> reply) {
        Object body = reply.body();
        if (body instanceof JsonObject o) return o;
        if (body == null) return new JsonObject();
        if (body instanceof String s && s.strip().startsWith("{")) return new JsonObject(s);
        return new JsonObject().put("value", body);
    }
}
