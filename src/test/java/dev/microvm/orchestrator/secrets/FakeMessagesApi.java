package dev.microvm.orchestrator.secrets;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A local stand-in for the Anthropic Messages API: records every request it receives and answers
 * {@code POST /v1/messages} with server-sent events shaped like the real API's. The stream can be
 * held after the first event ({@link #holdAfterFirstEvent()}) to show that the proxy does not
 * buffer it.
 */
final class FakeMessagesApi {

    record Received(String method, String uri, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase());
        }
    }

    static final int INPUT_TOKENS = 1200;
    static final int CACHE_CREATION = 300;
    static final int CACHE_READ = 5000;
    static final int OUTPUT_TOKENS = 42;
    static final String MODEL = "claude-sonnet-4-5-20250929";

    final List<Received> received = new CopyOnWriteArrayList<>();
    private volatile Promise<Void> hold;
    private HttpServer server;

    int start(Vertx vertx) throws Exception {
        server = vertx.createHttpServer().requestHandler(this::handle).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return server.actualPort();
    }

    /** The next stream stops after message_start until the returned promise is completed. */
    Promise<Void> holdAfterFirstEvent() {
        Promise<Void> p = Promise.promise();
        hold = p;
        return p;
    }

    private void handle(HttpServerRequest req) {
        req.body().onSuccess(body -> {
            Map<String, String> headers = new TreeMap<>();
            req.headers().forEach((k, v) -> headers.merge(k.toLowerCase(), v, (a, b) -> a + "," + b));
            received.add(new Received(req.method().name(), req.uri(), headers, body.toString()));
            if (req.path().equals("/v1/messages/count_tokens")) {
                req.response().putHeader("content-type", "application/json").end(new JsonObject().put("input_tokens", 77).encode());
            } else if (req.path().equals("/v1/messages") && body.toString().contains("\"stream\":false")) {
                req.response().putHeader("content-type", "application/json").end(message(OUTPUT_TOKENS).encode());
            } else if (req.path().equals("/v1/messages")) {
                stream(req);
            } else {
                req.response().setStatusCode(404).end();
            }
        });
    }

    private void stream(HttpServerRequest req) {
        var out = req.response().setChunked(true).putHeader("content-type", "text/event-stream; charset=utf-8");
        JsonObject start = new JsonObject().put("type", "message_start").put("message", message(1).put("content", List.of()));
        out.write(sse("message_start", start));
        Promise<Void> h = hold;
        hold = null;
        Runnable rest = () -> {
            out.write(sse("content_block_start", new JsonObject().put("type", "content_block_start").put("index", 0)
                    .put("content_block", new JsonObject().put("type", "text").put("text", ""))));
            out.write(sse("content_block_delta", new JsonObject().put("type", "content_block_delta").put("index", 0)
                    .put("delta", new JsonObject().put("type", "text_delta").put("text", "hello from the fake API"))));
            out.write(sse("content_block_stop", new JsonObject().put("type", "content_block_stop").put("index", 0)));
            out.write(sse("message_delta", new JsonObject().put("type", "message_delta")
                    .put("delta", new JsonObject().put("stop_reason", "end_turn").putNull("stop_sequence"))
                    .put("usage", new JsonObject().put("output_tokens", OUTPUT_TOKENS))));
            out.end(sse("message_stop", new JsonObject().put("type", "message_stop")));
        };
        if (h == null) rest.run(); else h.future().onComplete(v -> rest.run());
    }

    private static JsonObject message(int outputTokens) {
        return new JsonObject().put("id", "msg_fake").put("type", "message").put("role", "assistant").put("model", MODEL)
                .put("content", List.of(new JsonObject().put("type", "text").put("text", "hello from the fake API").getMap()))
                .put("stop_reason", "end_turn").putNull("stop_sequence")
                .put("usage", new JsonObject().put("input_tokens", INPUT_TOKENS).put("output_tokens", outputTokens)
                        .put("cache_creation_input_tokens", CACHE_CREATION).put("cache_read_input_tokens", CACHE_READ));
    }

    private static String sse(String event, JsonObject data) {
        return "event: " + event + "\ndata: " + data.encode() + "\n\n";
    }
}
