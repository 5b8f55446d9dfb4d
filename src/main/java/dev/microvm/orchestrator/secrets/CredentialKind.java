package dev.microvm.orchestrator.secrets;

/** What kind of Anthropic credential we hold; it decides the header the API proxy sends upstream. */
public enum CredentialKind {
    /** A console API key ({@code sk-ant-api03-...}), sent as {@code x-api-key}. */
    API_KEY,
    /** A Claude subscription OAuth token ({@code sk-ant-oat01-...}), sent as {@code Authorization: Bearer}. */
    OAUTH
}
