package dev.microvm.orchestrator.worker;

/**
 * A blocking step failed for a reason users should see. The worker pool replies with the reason's
 * failure code ({@code task/TaskFailure}), so the task records the stable reason.
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
}
