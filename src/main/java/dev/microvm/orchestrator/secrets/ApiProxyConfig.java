package dev.microvm.orchestrator.secrets;

import java.net.URI;
import java.util.Objects;

/**
 * Where the API proxy listens and where it forwards to.
 *
 * @param bindHost    normally {@code 127.0.0.1}: QEMU user networking reaches host loopback
 *                    (guest address 10.0.2.2); under vfkit NAT the caller binds the NAT gateway
 *                    address instead, never a wildcard address
 * @param port        0 for an ephemeral port (the actual one is reported on registration)
 * @param upstream    the real API, normally {@link #DEFAULT_UPSTREAM}
 */
public record ApiProxyConfig(String bindHost, int port, URI upstream) {

    public static final URI DEFAULT_UPSTREAM = URI.create("https://api.anthropic.com");

    public ApiProxyConfig {
        Objects.requireNonNull(bindHost, "bindHost");
        Objects.requireNonNull(upstream, "upstream");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
        if (bindHost.equals("0.0.0.0") || bindHost.equals("::")) {
            throw new IllegalArgumentException("the API proxy must not listen on every interface: " + bindHost);
        }
        String scheme = upstream.getScheme();
        if (!"https".equals(scheme) && !"http".equals(scheme) || upstream.getHost() == null) {
            throw new IllegalArgumentException("upstream must be an http(s) URL with a host: " + upstream);
        }
    }

    public static ApiProxyConfig loopback(int port) {
        return new ApiProxyConfig("127.0.0.1", port, DEFAULT_UPSTREAM);
    }

    boolean upstreamTls() {
        return "https".equals(upstream.getScheme());
    }

    int upstreamPort() {
        return upstream.getPort() > 0 ? upstream.getPort() : upstreamTls() ? 443 : 80;
    }

    /** A path prefix of the upstream URL, without a trailing slash ("" for none). */
    String upstreamBasePath() {
        String p = upstream.getRawPath();
        if (p == null) return "";
        return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
}
