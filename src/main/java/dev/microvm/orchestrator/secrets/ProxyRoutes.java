package dev.microvm.orchestrator.secrets;

import io.vertx.core.http.HttpMethod;

import java.util.Set;

/**
 * The only requests the API proxy forwards: what Claude Code sends when pointed at
 * {@code ANTHROPIC_BASE_URL}. Recorded from a real headless run (Claude Code 2.1.x):
 * {@code HEAD /} (a connectivity check without credentials, answered by the proxy itself) and
 * {@code POST /v1/messages?beta=true}; token counting uses {@code POST /v1/messages/count_tokens}.
 * Everything else (the Admin, Files and Batches APIs, OAuth endpoints) is refused.
 */
final class ProxyRoutes {

    record Route(HttpMethod method, String path) {}

    private static final Set<Route> FORWARDED = Set.of(
            new Route(HttpMethod.POST, "/v1/messages"),
            new Route(HttpMethod.POST, "/v1/messages/count_tokens"));

    private static final String METERED_PATH = "/v1/messages";

    private ProxyRoutes() {}

    /** The connectivity check Claude Code makes before its first request. */
    static boolean isConnectivityCheck(HttpMethod method, String path) {
        return (method == HttpMethod.HEAD || method == HttpMethod.GET) && "/".equals(path);
    }

    static boolean isForwarded(HttpMethod method, String path) {
        return path != null && FORWARDED.contains(new Route(method, path));
    }

    /** Responses of these requests carry billed usage. */
    static boolean isMetered(String path) {
        return METERED_PATH.equals(path);
    }
}
