package dev.microvm.orchestrator.task;

import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;

/**
 * A failure with a {@link FailureReason}, and the one codec for sending it over the event bus: the
 * reason travels as the reply's failure code, the message stays words for people. {@link #reply}
 * encodes (the worker pool's failure reply, the task manager's request replies); {@link #of}
 * decodes any failure a request returned.
 */
public final class TaskFailure extends RuntimeException {
    private final FailureReason reason;

    public TaskFailure(FailureReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public FailureReason reason() {
        return reason;
    }

    /** Fails {@code msg} with {@code reason}. */
    public static void reply(Message<?> msg, FailureReason reason, String message) {
        msg.fail(reason.code(), message);
    }

    /** Fails {@code msg} with this failure. */
    public void replyTo(Message<?> msg) {
        reply(msg, reason, getMessage());
    }

    /**
     * The reason and message of {@code cause}, as returned by a request: its own reason when it is
     * a {@code TaskFailure} or a reply failed with a reason code, otherwise {@code fallback}.
     */
    public static TaskFailure of(Throwable cause, FailureReason fallback) {
        // a future's wrappers (ExecutionException, CompletionException) carry the failure as their cause
        while ((cause instanceof java.util.concurrent.ExecutionException || cause instanceof java.util.concurrent.CompletionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof TaskFailure f) return f;
        String message = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        if (cause instanceof ReplyException re && re.failureType() == ReplyFailure.RECIPIENT_FAILURE) {
            return new TaskFailure(FailureReason.fromCode(re.failureCode()).orElse(fallback), message);
        }
        return new TaskFailure(fallback, message);
    }

    /** How a user reads it: {@code [reason] message}. For display only; nothing parses it back. */
    public String display() {
        return "[" + reason.wireName() + "] " + getMessage();
    }
}
