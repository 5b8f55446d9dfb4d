package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.util.ReasonedException;

/**
 * A blocking step failed for a reason users should see. The worker pool replies with the reason's
 * failure code ({@code task/TaskFailure}), so the task records the stable reason.
 */
public class WorkerFailure extends RuntimeException {
    private final FailureReason reason;

    public WorkerFailure(FailureReason reason, String message) {
        this(reason, message, null);
    }

    public WorkerFailure(FailureReason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** A vm or git failure, with the reason it named. */
    public static WorkerFailure of(ReasonedException e) {
        return new WorkerFailure(FailureReason.fromWire(e.reason()), e.getMessage(), e);
    }

    public FailureReason reason() {
        return reason;
    }
}
