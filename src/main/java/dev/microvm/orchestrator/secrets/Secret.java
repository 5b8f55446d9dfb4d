package dev.microvm.orchestrator.secrets;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * A credential that must not leak by accident. {@link #toString()} never shows the value, so a
 * secret dropped into a log line, an exception message or a JSON object by mistake prints as
 * {@code Secret[redacted]}. The value is only reachable through {@link #reveal()}, which makes
 * every real use visible in the code.
 */
public final class Secret {

    private static final String REDACTED = "Secret[redacted]";

    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    /** Wraps a non-empty value; surrounding whitespace (a trailing newline from a file) is dropped. */
    public static Secret of(String value) {
        Objects.requireNonNull(value, "secret value");
        String trimmed = value.strip();
        if (trimmed.isEmpty()) throw new IllegalArgumentException("a secret cannot be empty");
        return new Secret(trimmed);
    }

    /** The plain value. Call only where the credential is actually used (a header, a 0600 file). */
    public String reveal() {
        return value;
    }

    /** Constant-time comparison with a presented value, for checking tokens without timing leaks. */
    public boolean matches(String presented) {
        if (presented == null) return false;
        return MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Secret other && matches(other.value);
    }

    @Override
    public int hashCode() {
        return 0; // a hash derived from the value would leak information about it; secrets are rarely map keys
    }

    @Override
    public String toString() {
        return REDACTED;
    }
}
