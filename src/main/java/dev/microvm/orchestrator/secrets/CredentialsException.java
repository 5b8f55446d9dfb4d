package dev.microvm.orchestrator.secrets;

/** No usable credential; the message tells the user how to provide one. */
public final class CredentialsException extends Exception {
    public CredentialsException(String message) {
        super(message);
    }

    public CredentialsException(String message, Throwable cause) {
        super(message, cause);
    }
}
