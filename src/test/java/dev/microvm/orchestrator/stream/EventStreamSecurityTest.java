package dev.microvm.orchestrator.stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EventStreamSecurityTest {

    @TempDir
    static Path stateDir;
    static StreamServer server;

    @BeforeAll
    static void start() {
        server = StreamServer.start(stateDir);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private String get(String path, String... headers) {
        return request(path, "close", headers);
    }

    private String request(String path, String connection, String... headers) {
        return server.raw("GET " + path + " HTTP/1.1\n" + String.join("\n", headers) + (headers.length > 0 ? "\n" : "")
                + "Connection: " + connection + "\n");
    }

    private String host() {
        return "Host: localhost:" + server.port();
    }

    private String bearer() {
        return "Authorization: Bearer " + server.token();
    }

    private String wsHandshake(String pathAndQuery, String... headers) {
        return request(pathAndQuery, "Upgrade", concat(headers, "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="));
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void theTokenFileIsCreatedOnFirstStartReadableByTheOwnerOnly() throws Exception {
        assertThat(Files.getPosixFilePermissions(server.paths.httpTokenFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(server.token()).matches("[0-9a-f]{64}");
    }

    @Test
    void aRequestWithTheBearerTokenIsServed() {
        String r = get("/health", host(), bearer());
        assertThat(StreamServer.status(r)).isEqualTo(200);
        assertThat(r).contains("\"status\":\"ok\"");
    }

    @Test
    void aRequestWithoutTokenIsRefused() {
        assertThat(StreamServer.status(get("/health", host()))).isEqualTo(401);
        assertThat(StreamServer.status(get("/api/tasks", host()))).isEqualTo(401);
        assertThat(StreamServer.status(get("/", host()))).isEqualTo(401);
        assertThat(StreamServer.status(get("/metrics", host()))).isEqualTo(401);
    }

    @Test
    void aWrongTokenIsRefusedInEveryPlaceATokenMayBe() {
        String wrong = "0".repeat(64);
        assertThat(StreamServer.status(get("/health", host(), "Authorization: Bearer " + wrong))).isEqualTo(401);
        assertThat(StreamServer.status(get("/health?token=" + wrong, host()))).isEqualTo(401);
        assertThat(StreamServer.status(get("/health", host(), "Cookie: mvo_token_" + server.port() + "=" + wrong))).isEqualTo(401);
        assertThat(StreamServer.status(get("/health", host(), "Authorization: Bearer " + server.token().substring(1)))).isEqualTo(401);
    }

    @Test
    void aForeignHostHeaderIsRefusedEvenWithTheToken() {
        assertThat(StreamServer.status(get("/health", "Host: evil.example:" + server.port(), bearer()))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", "Host: evil.example", bearer()))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", "Host: localhost:1", bearer()))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", "Host: localhost.evil.example:" + server.port(), bearer()))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", bearer()))).isBetween(400, 499);
    }

    @Test
    void everyLoopbackSpellingOfOurOwnHostIsAccepted() {
        for (String h : new String[]{"localhost", "127.0.0.1", "[::1]", "LocalHost"}) {
            assertThat(StreamServer.status(get("/health", "Host: " + h + ":" + server.port(), bearer()))).as(h).isEqualTo(200);
        }
    }

    @Test
    void aForeignOriginIsRefusedEvenWithTheToken() {
        assertThat(StreamServer.status(get("/health", host(), bearer(), "Origin: http://evil.example"))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", host(), bearer(), "Origin: http://localhost:1"))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", host(), bearer(), "Origin: https://localhost:" + server.port()))).isEqualTo(403);
        assertThat(StreamServer.status(get("/health", host(), bearer(), "Origin: http://localhost:" + server.port()))).isEqualTo(200);
    }

    @Test
    void originNullIsRefused() {
        assertThat(StreamServer.status(get("/health", host(), bearer(), "Origin: null"))).isEqualTo(403);
    }

    @Test
    void webSocketHandshakesPassTheSameChecks() {
        String own = "Origin: http://localhost:" + server.port();
        assertThat(StreamServer.status(wsHandshake("/events", host(), own))).isEqualTo(401);
        assertThat(StreamServer.status(wsHandshake("/events?token=" + "1".repeat(64), host(), own))).isEqualTo(401);
        assertThat(StreamServer.status(wsHandshake("/events?token=" + server.token(), host(), "Origin: http://evil.example"))).isEqualTo(403);
        assertThat(StreamServer.status(wsHandshake("/events?token=" + server.token(), host(), "Origin: null"))).isEqualTo(403);
        assertThat(StreamServer.status(wsHandshake("/events?token=" + server.token(), "Host: evil.example:" + server.port(), own))).isEqualTo(403);
        assertThat(StreamServer.status(wsHandshake("/events", host(), own, "Cookie: mvo_token_" + server.port() + "=" + server.token()))).isEqualTo(101);
        assertThat(StreamServer.status(wsHandshake("/events?token=" + server.token(), host(), own))).isEqualTo(101);
    }

    @Test
    void thePrintedLinkMovesTheTokenIntoAStrictHttpOnlyCookieAndOutOfTheAddressBar() {
        String r = get("/?token=" + server.token(), host());
        assertThat(StreamServer.status(r)).isEqualTo(303);
        assertThat(r).containsIgnoringCase("Location: /\r\n");
        String cookie = r.lines().filter(l -> l.toLowerCase().startsWith("set-cookie:")).findFirst().orElseThrow();
        assertThat(cookie).contains("mvo_token_" + server.port() + "=" + server.token()).containsIgnoringCase("HttpOnly").containsIgnoringCase("SameSite=Strict");
        String page = get("/", host(), "Cookie: mvo_token_" + server.port() + "=" + server.token());
        assertThat(StreamServer.status(page)).isEqualTo(200);
        assertThat(page).contains("<title>").contains("Content-Security-Policy");
    }

    @Test
    void bindingANonLoopbackAddressNeedsAnExplicitChoice(@TempDir Path other) {
        var options = new EventStreamOptions("0.0.0.0", 0, false, Set.of(), 10, 10, 10);
        assertThatThrownBy(() -> StreamServer.startOn(server.vertx, other, options))
                .hasStackTraceContaining("non-loopback");
    }

    @Test
    void aSecondServerOnATakenPortStartsButReportsThatAnotherProcessServes(@TempDir Path other) {
        // a separate Vert.x instance, as another process would have (one instance shares its own ports)
        try (StreamServer second = StreamServer.start(other, EventStreamOptions.loopback(server.port()))) {
            assertThat(second.verticle.outcome()).isEqualTo(EventStreamVerticle.Outcome.PORT_IN_USE);
            assertThat(second.verticle.port()).isEqualTo(-1);
        }
        assertThat(server.verticle.outcome()).isEqualTo(EventStreamVerticle.Outcome.SERVING);
    }
}
