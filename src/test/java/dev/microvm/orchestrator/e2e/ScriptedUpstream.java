package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * scripts/scripted-messages-api.py as a test fixture: a local Messages API that answers a real
 * Claude Code with scripted tool calls (SSE, tool_use blocks), and logs every request it got.
 */
final class ScriptedUpstream implements AutoCloseable {
    private final Process process;
    private final Path log;
    final int port;

    ScriptedUpstream(Path dir, JsonArray scenarios) throws Exception {
        this(dir, scenarios, List.of());
    }

    /** The same, run under {@code prefix} (e.g. {@code ip netns exec NAME}). */
    ScriptedUpstream(Path dir, JsonArray scenarios, List<String> prefix) throws Exception {
        Files.createDirectories(dir);
        Path script = dir.resolve("scenarios.json");
        Files.writeString(script, new JsonObject().put("scenarios", scenarios).encodePrettily());
        log = dir.resolve("requests.jsonl");
        Path portFile = dir.resolve("port");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("python3", TestGuest.projectDir().resolve("scripts/scripted-messages-api.py").toString(),
                "--port-file", portFile.toString(), "--log", log.toString(), "--script", script.toString()));
        process = new ProcessBuilder(cmd)
                .redirectErrorStream(true).redirectOutput(dir.resolve("server.out").toFile()).start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Files.exists(portFile)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("the scripted Messages API did not start: " + Files.readString(dir.resolve("server.out")));
            }
            Thread.sleep(50);
        }
        port = Integer.parseInt(Files.readString(portFile).strip());
    }

    /** A scenario: played when {@code match} occurs in the prompt. */
    static JsonObject scenario(String match, JsonObject... steps) {
        return new JsonObject().put("match", match).put("steps", new JsonArray(List.of((Object[]) steps)));
    }

    static JsonObject bash(String command) {
        return new JsonObject().put("tool", "Bash").put("input", new JsonObject().put("command", command).put("description", "scripted step"));
    }

    static JsonObject text(String text) {
        return new JsonObject().put("text", text);
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Every request logged so far. */
    List<JsonObject> requests() throws IOException {
        List<JsonObject> out = new ArrayList<>();
        if (!Files.exists(log)) return out;
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) if (line.startsWith("{")) out.add(new JsonObject(line));
        return out;
    }

    /** The Messages API calls of the scripted conversations (not Claude Code's side requests). */
    List<JsonObject> scriptedCalls() throws IOException {
        return requests().stream().filter(r -> "POST".equals(r.getString("method")) && r.getString("path").startsWith("/v1/messages")
                && !"side-request".equals(r.getString("scenario"))).toList();
    }

    static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
