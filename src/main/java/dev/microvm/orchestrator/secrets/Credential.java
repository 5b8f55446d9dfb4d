package dev.microvm.orchestrator.secrets;

import java.util.Objects;

/**
 * The real Anthropic credential of this host and where it came from ({@code source} is a
 * description such as "environment variable ANTHROPIC_API_KEY", never the value).
 */
public record Credential(CredentialKind kind, Secret secret, String source) {
    public Credential {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(secret, "secret");
        Objects.requireNonNull(source, "source");
    }
}
