package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.secrets.AccessToken;
import io.vertx.core.Handler;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

import java.util.Locale;
import java.util.Set;
import java.util.function.IntSupplier;

/**
 * First handler of every route, WebSocket upgrades included. It refuses, in this order:
 * <ol>
 *   <li>a Host header that is not one of our own names with our port — a DNS-rebinding page
 *       reaches us under its own host name, so this stops it even before the token is checked;</li>
 *   <li>an Origin header that is present but is not our own origin, and {@code Origin: null}
 *       (sandboxed frames, file: pages) — this stops cross-site WebSocket hijacking, where the
 *       browser would attach our cookie to a foreign page's handshake;</li>
 *   <li>a request without the access token, taken from {@code Authorization: Bearer}, the
 *       {@code token} query parameter, or the dashboard cookie.</li>
 * </ol>
 * Non-browser clients send no Origin; they pass with the token alone.
 *
 * <p>The dashboard link printed at startup carries the token in its query. On that first page
 * load the guard moves it into an HttpOnly, SameSite=Strict cookie and redirects to the bare URL,
 * so the token leaves the address bar and history; later page, API and WebSocket requests of the
 * page use the cookie.
 */
final class RequestGuard implements Handler<RoutingContext> {

    /** Cookies are shared by all ports of a host, so the name carries the port: two servers never clobber each other's. */
    static final String COOKIE_PREFIX = "mvo_token_";

    private final AccessToken token;
    private final Set<String> hostNames;
    private final IntSupplier port;

    /**
     * @param hostNames lowercase names this server answers to (localhost, 127.0.0.1, [::1], plus configured ones)
     * @param port      the bound port, read on each request because it is known only after listening
     */
    RequestGuard(AccessToken token, Set<String> hostNames, IntSupplier port) {
        this.token = token;
        this.hostNames = Set.copyOf(hostNames);
        this.port = port;
    }

    @Override
    public void handle(RoutingContext ctx) {
        HttpServerRequest req = ctx.request();
        String host = req.getHeader(HttpHeaders.HOST);
        if (!isOwnAuthority(host)) {
            refuse(ctx, 403, "Host header '" + printable(host) + "' is not this server; use http://localhost:" + port.getAsInt());
            return;
        }
        String origin = req.getHeader(HttpHeaders.ORIGIN);
        if (origin != null && !isOwnOrigin(origin)) {
            refuse(ctx, 403, "cross-origin request refused (Origin '" + printable(origin) + "')");
            return;
        }
        String queryToken = req.getParam("token");
        if (token.matches(bearer(req))) {
            ctx.next();
        } else if (token.matches(queryToken)) {
            if (isPageLoad(req)) {
                moveTokenToCookie(ctx);
            } else {
                ctx.next();
            }
        } else if (cookieToken(ctx) != null && token.matches(cookieToken(ctx))) {
            ctx.next();
        } else {
            ctx.response().putHeader("WWW-Authenticate", "Bearer");
            refuse(ctx, 401, "missing or wrong access token; open the dashboard link printed at startup, "
                    + "or send 'Authorization: Bearer <token>' (the token is in the state directory, http/token)");
        }
    }

    boolean isOwnAuthority(String authority) {
        if (authority == null || authority.isEmpty()) return false;
        String a = authority.toLowerCase(Locale.ROOT);
        String name;
        int p;
        int colon = a.lastIndexOf(':');
        if (a.startsWith("[")) {
            int close = a.indexOf(']');
            if (close < 0) return false;
            name = a.substring(0, close + 1);
            String rest = a.substring(close + 1);
            if (rest.isEmpty()) p = 80;
            else if (rest.startsWith(":")) p = parsePort(rest.substring(1));
            else return false;
        } else if (colon >= 0) {
            name = a.substring(0, colon);
            p = parsePort(a.substring(colon + 1));
        } else {
            name = a;
            p = 80;
        }
        return hostNames.contains(name) && p == port.getAsInt();
    }

    boolean isOwnOrigin(String origin) {
        String o = origin.toLowerCase(Locale.ROOT);
        if (!o.startsWith("http://")) return false; // also refuses "null"
        String authority = o.substring("http://".length());
        if (authority.endsWith("/")) authority = authority.substring(0, authority.length() - 1);
        if (authority.contains("/") || authority.contains("@")) return false;
        return isOwnAuthority(authority);
    }

    private static boolean isPageLoad(HttpServerRequest req) {
        return req.method() == HttpMethod.GET && !req.path().startsWith("/api/")
                && !req.path().equals("/events") && !"websocket".equalsIgnoreCase(req.getHeader(HttpHeaders.UPGRADE));
    }

    private void moveTokenToCookie(RoutingContext ctx) {
        Cookie cookie = Cookie.cookie(COOKIE_PREFIX + port.getAsInt(), token.reveal()).setHttpOnly(true).setSameSite(CookieSameSite.STRICT).setPath("/");
        ctx.response().addCookie(cookie);
        ctx.response().setStatusCode(303).putHeader(HttpHeaders.LOCATION, ctx.request().path())
                .putHeader(HttpHeaders.CACHE_CONTROL, "no-store").end();
    }

    private static String bearer(HttpServerRequest req) {
        String auth = req.getHeader(HttpHeaders.AUTHORIZATION);
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) return null;
        return auth.substring(7).strip();
    }

    private String cookieToken(RoutingContext ctx) {
        Cookie c = ctx.request().getCookie(COOKIE_PREFIX + port.getAsInt());
        return c == null ? null : c.getValue();
    }

    private static int parsePort(String s) {
        if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(Character::isDigit)) return -1;
        return Integer.parseInt(s);
    }

    private static void refuse(RoutingContext ctx, int status, String message) {
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
                .end(new JsonObject().put("error", message).encode());
    }

    private static String printable(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) b.append(c < 0x20 || c > 0x7e ? '?' : c);
        return b.length() > 100 ? b.substring(0, 100) + "..." : b.toString();
    }
}
