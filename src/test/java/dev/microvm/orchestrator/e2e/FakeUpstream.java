package dev.microvm.orchestrator.e2e;

import com.sun.net.httpserver.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback stand-in for the Anthropic Messages API (what the credential proxy forwards to), and
 * also a plain "is anybody reaching me" listener: it records every request's path and headers,
 * answers /v1/messages with a small non-streaming message, anything else with 200 "reached".
 */
final class FakeUpstream implements AutoCloseable {

    static final String REPLY_TEXT = "hello from the fake upstream";

    record Received(String path, Map<String, List<String>> headers) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> String.join(",", e.getValue())).findFirst().orElse(null);
        }
    }

    final List<Received> received = new CopyOnWriteArrayList<>();
    private final HttpServer server;

    FakeUpstream() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            received.add(new Received(exchange.getRequestURI().getPath(), Map.copyOf(exchange.getRequestHeaders())));
            boolean messages = exchange.getRequestURI().getPath().equals("/v1/messages");
            byte[] body = (messages ? message() : "reached").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("content-type", messages ? "application/json" : "text/plain");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    private static String message() {
        return new JsonObject().put("id", "msg_e2e").put("type", "message").put("role", "assistant").put("model", "claude-e2e")
                .put("content", new JsonArray().add(new JsonObject().put("type", "text").put("text", REPLY_TEXT)))
                .put("stop_reason", "end_turn")
                .put("usage", new JsonObject().put("input_tokens", 3).put("output_tokens", 5)).encode();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
