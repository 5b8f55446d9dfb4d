package dev.microvm.orchestrator.cluster;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Function;

/**
 * The one way the cluster's consumers answer. Whatever a handler does — returns a failed future,
 * throws before returning one, returns nothing, or is handed a body that is not a JSON object —
 * its caller gets a failure reply at once instead of waiting out its send timeout (30 s to minutes
 * between hosts).
 */
final class Replies {

    private static final Logger LOG = LoggerFactory.getLogger(Replies.class);

    /** Failure code of a request that was malformed or refers to nothing known here. */
    static final int BAD_REQUEST = 400;
    static final int INTERNAL = 500;

    private Replies() {}

    /** A consumer handler that answers {@code op}'s result, or a failure with a code and a message. */
    static Handler<Message<JsonObject>> to(Function<JsonObject, Future<JsonObject>> op) {
        return msg -> {
            Future<JsonObject> f;
            try {
                Object body = ((Message<?>) msg).body();
                if (body != null && !(body instanceof JsonObject)) {
                    throw new IllegalArgumentException("the request body must be a JSON object, not " + body.getClass().getSimpleName());
                }
                f = op.apply(body == null ? new JsonObject() : (JsonObject) body);
                if (f == null) f = Future.failedFuture(new IllegalStateException("the handler of " + msg.address() + " returned no answer"));
            } catch (RuntimeException e) {
                f = Future.failedFuture(e);
            }
            f.onComplete(ar -> {
                if (ar.succeeded()) {
                    msg.reply(ar.result());
                    return;
                }
                Throwable t = ar.cause();
                int code = codeOf(t);
                if (code == INTERNAL) LOG.warn("request to {} failed: {}", msg.address(), t.toString());
                msg.fail(code, messageOf(t));
            });
        };
    }

    static int codeOf(Throwable t) {
        // a request of ours that timed out or found no consumer carries -1: to our caller that is our failure
        if (t instanceof ReplyException re) return re.failureCode() > 0 ? re.failureCode() : INTERNAL;
        if (t instanceof IllegalArgumentException || t instanceof ClassCastException) return BAD_REQUEST;
        return INTERNAL;
    }

    static String messageOf(Throwable t) {
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
