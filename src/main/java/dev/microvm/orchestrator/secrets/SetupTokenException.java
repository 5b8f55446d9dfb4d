package dev.microvm.orchestrator.secrets;

/** {@code setup-token} failed; the message says why and what to do. */
public final class SetupTokenException extends Exception {
    public SetupTokenException(String message) {
        super(message);
    }

    public SetupTokenException(String message, Throwable cause) {
        super(message, cause);
    }
}
