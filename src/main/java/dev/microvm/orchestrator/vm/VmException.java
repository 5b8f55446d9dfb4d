package dev.microvm.orchestrator.vm;

/** A VM could not be started or controlled. {@code reason} is a stable code shown to users. */
public class VmException extends Exception {
    private final String reason;

    public VmException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    public VmException(String reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** Stable code: boot_failed, boot_timeout, spawn_failed, control_failed, ... */
    public String reason() {
        return reason;
    }
}
