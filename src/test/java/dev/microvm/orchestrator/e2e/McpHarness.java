package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.testing.JavaProcess;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * Runs src/test/js/mcp-harness.mjs (the official TypeScript MCP client) against a real
 * {@code microvm-orchestrator mcp} process and returns its output lines. Installs the npm
 * dependencies on first use; without node/npm the test is skipped locally and fails in CI.
 */
final class McpHarness {

    private static final Path JS_DIR = TestGuest.projectDir().resolve("src/test/js");

    private McpHarness() {}

    /** Output of one harness run: one JSON object per step, then the summary. */
    record Run(List<JsonObject> lines, String stderr, int exitCode) {
        JsonObject step(int i) {
            return lines.stream().filter(l -> Integer.valueOf(i).equals(l.getInteger("step"))).findFirst()
                    .orElseThrow(() -> new AssertionError("no output for step " + i + ":\n" + describe()));
        }

        JsonObject summary() {
            return lines.stream().filter(l -> l.containsKey("summary")).map(l -> l.getJsonObject("summary")).findFirst()
                    .orElseThrow(() -> new AssertionError("no summary:\n" + describe()));
        }

        String describe() {
            StringBuilder b = new StringBuilder();
            lines.forEach(l -> b.append(l.containsKey("tools") ? "{list_tools}" : l.encode()).append('\n'));
            String err = stderr.length() > 20_000 ? stderr.substring(stderr.length() - 20_000) : stderr;
            return b.append("--- server stderr (tail) ---\n").append(err).toString();
        }
    }

    static void ensureInstalled() throws Exception {
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
        if (!onPath("node") || !onPath("npm")) {
            if (ci) fail("node and npm are required for the MCP end-to-end tests");
            Assumptions.abort("node/npm not installed");
        }
        if (Files.isDirectory(JS_DIR.resolve("node_modules/@modelcontextprotocol/sdk"))) return;
        Process p = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(JS_DIR.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) fail("npm ci in src/test/js failed:\n" + out);
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    /** The server's environment: the test's own, minus any real credential, plus {@code extra}. */
    static ProcessBuilder start(Path script, Path stateDir, Path stderrFile, Map<String, String> extra) throws IOException {
        return start(script, stateDir, stderrFile, extra, List.of());
    }

    /** The same with the server started under {@code serverPrefix} (e.g. {@code ip netns exec NAME}). */
    static ProcessBuilder start(Path script, Path stateDir, Path stderrFile, Map<String, String> extra, List<String> serverPrefix) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("node", JS_DIR.resolve("mcp-harness.mjs").toString(), script.toString(), "--"));
        cmd.addAll(serverPrefix);
        cmd.addAll(List.of(JavaProcess.javaBinary(), "-XX:TieredStopAtLevel=1", "-cp", JavaProcess.classpath(),
                "dev.microvm.orchestrator.cli.Main", "mcp", "--state-dir", stateDir.toString()));
        // stdout goes straight to a file: a test that waits for the harness to end before reading
        // would otherwise block it on a full pipe (the harness waits for its output to be written)
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(stderrFile.toFile())
                .redirectOutput(stderrFile.resolveSibling("harness.stdout").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("ANTHROPIC_") || k.startsWith("CLAUDE_CODE_"));
        pb.environment().put("MICROVM_ORCHESTRATOR_MCP_POLL_MS", "200");
        pb.environment().put("MICROVM_ORCHESTRATOR_MCP_PROGRESS_MS", "5000");
        pb.environment().putAll(extra);
        return pb;
    }

    static Run run(Path dir, JsonArray steps, Path stateDir, Map<String, String> extra, long timeoutSeconds) throws Exception {
        Process p = launch(dir, steps, stateDir, extra);
        return collect(p, dir, timeoutSeconds);
    }

    static Process launch(Path dir, JsonArray steps, Path stateDir, Map<String, String> extra) throws Exception {
        return launch(dir, steps, stateDir, extra, List.of());
    }

    static Process launch(Path dir, JsonArray steps, Path stateDir, Map<String, String> extra, List<String> serverPrefix) throws Exception {
        ensureInstalled();
        Files.createDirectories(dir);
        Path script = dir.resolve("script.json");
        Files.writeString(script, new JsonObject().put("steps", steps).encodePrettily());
        return start(script, stateDir, dir.resolve("server.stderr"), extra, serverPrefix).start();
    }

    /**
     * Like {@link #launch}, but the script (with {@code serverEnv} for the server alone) is handed
     * over on stdin, so secrets in it never touch the disk or the harness's own environment.
     */
    static Process launchWithPrivateEnv(Path dir, JsonArray steps, Path stateDir, Map<String, String> serverEnv) throws Exception {
        ensureInstalled();
        Files.createDirectories(dir);
        ProcessBuilder pb = start(Path.of("-"), stateDir, dir.resolve("server.stderr"), Map.of());
        Process p = pb.start();
        JsonObject env = new JsonObject();
        serverEnv.forEach(env::put);
        try (var in = p.getOutputStream()) {
            in.write(new JsonObject().put("env", env).put("steps", steps).encode().getBytes(StandardCharsets.UTF_8));
        }
        return p;
    }

    static Run collect(Process p, Path dir, long timeoutSeconds) throws Exception {
        Path stdoutFile = dir.resolve("harness.stdout");
        boolean ended = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!ended) destroy(p);
        List<JsonObject> lines = new ArrayList<>();
        if (Files.exists(stdoutFile)) {
            for (String line : Files.readAllLines(stdoutFile)) {
                if (line.startsWith("{")) lines.add(new JsonObject(line));
            }
        }
        String stderr = Files.exists(dir.resolve("server.stderr")) ? Files.readString(dir.resolve("server.stderr")) : "";
        Run run = new Run(lines, stderr, ended ? p.exitValue() : -1);
        if (!ended) throw new AssertionError("the MCP harness did not finish within " + timeoutSeconds + " s:\n" + run.describe());
        return run;
    }

    /** Kills a harness and the MCP server (and whatever it started) under it; null is nothing to kill. */
    static void destroy(Process harness) {
        if (harness == null) return;
        harness.descendants().forEach(ProcessHandle::destroyForcibly);
        harness.destroyForcibly();
    }

    static JsonObject call(String tool, JsonObject args) {
        return new JsonObject().put("call", tool).put("args", args);
    }
}
