package dev.microvm.orchestrator.mcp;

import java.util.Map;
import java.util.UUID;

/**
 * Who is calling: the Claude Code session when the server runs under one (Claude Code puts
 * {@code CLAUDE_CODE_SESSION_ID} into its MCP servers' environment), otherwise this one MCP
 * connection. A session id survives a restart of this server within the same Claude session,
 * so its tasks and its undelivered events survive too.
 */
public final class CallerIdentity {

    public static final String SESSION_ENV = "CLAUDE_CODE_SESSION_ID";
    static final String SESSION_PREFIX = "session-";
    static final String CONNECTION_PREFIX = "connection-";

    private CallerIdentity() {}

    public static String fromEnvironment(Map<String, String> env) {
        String session = env.get(SESSION_ENV);
        if (session != null && !session.isBlank()) return SESSION_PREFIX + sanitize(session.strip());
        return CONNECTION_PREFIX + UUID.randomUUID();
    }

    /** Maps any string onto {@code [A-Za-z0-9._-]{1,120}} so it can name a cursor file. */
    static String sanitize(String raw) {
        StringBuilder b = new StringBuilder();
        for (char c : raw.toCharArray()) {
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            b.append(ok ? c : '_');
            if (b.length() == 100) break;
        }
        if (b.length() != raw.length() || !b.toString().equals(raw)) {
            b.append('.').append(Integer.toHexString(raw.hashCode()));
        }
        return b.toString();
    }
}
