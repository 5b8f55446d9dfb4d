package dev.microvm.orchestrator.util;

/**
 * A failure with a stable reason code that users see and records keep (a {@code task/FailureReason}
 * wire name). The rooms below the lifecycle (vm, git) name their reasons with it without knowing
 * the lifecycle.
 */
public abstract class ReasonedException extends Exception {
    private final String reason;

    protected ReasonedException(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** The stable code, for example {@code boot_timeout} or {@code bundle_too_large}. */
    public String reason() {
        return reason;
    }
}
