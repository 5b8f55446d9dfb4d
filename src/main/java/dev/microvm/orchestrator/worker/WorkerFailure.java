package dev.microvm.orchestrator.worker;

/**
 * A blocking step failed for a reason users should see. Its message travels over the event bus
 * as {@code "[reason] message"} so the task can record the stable reason code.
 */
public class WorkerFailure extends RuntimeException {
    private final String reason;

    public WorkerFailure(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    public WorkerFailure(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }

    public String wireMessage() {
        return "[" + reason + "] " + getMessage();
    }
}
