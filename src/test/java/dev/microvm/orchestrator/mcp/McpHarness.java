package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code src/test/js/mcp-harness.mjs} (the official TypeScript MCP client) against a server
 * command line, installing its npm packages from the lock file on first use.
 */
final class McpHarness {

    static final Path JS_DIR = Path.of(System.getProperty("project.basedir", ".")).resolve("src/test/js");

    private McpHarness() {}

    /** Fails the test run when Node is missing on CI; elsewhere the caller may skip. */
    static boolean available() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    static synchronized void install() throws Exception {
        if (Files.isDirectory(JS_DIR.resolve("node_modules/@modelcontextprotocol/sdk"))) return;
        Process p = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(JS_DIR.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("npm ci failed in " + JS_DIR + ":\n" + out);
    }

    /** The scripted stdio server started the way a client starts any stdio server. */
    static List<String> scriptedServerCommand(Path stateDir) throws IOException {
        String runtime = Files.readString(Path.of(System.getProperty("runtime.classpath.file"))).strip();
        Path base = Path.of(System.getProperty("project.basedir", "."));
        String cp = base.resolve("target/classes") + File.pathSeparator + base.resolve("target/test-classes")
                + File.pathSeparator + runtime;
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", cp,
                ScriptedMcpServerMain.class.getName(), stateDir.toString());
    }

    static Process start(JsonObject script, List<String> serverCommand, Path workDir) throws Exception {
        install();
        Path scriptFile = Files.createTempFile(workDir, "script", ".json");
        Files.writeString(scriptFile, script.encode());
        List<String> cmd = new ArrayList<>(List.of("node", JS_DIR.resolve("mcp-harness.mjs").toString(), scriptFile.toString(), "--"));
        cmd.addAll(serverCommand);
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(workDir.resolve("harness-stderr.log").toFile())).start();
    }

    record Run(int exitCode, List<JsonObject> lines) {
        JsonObject step(int i) {
            return lines.stream().filter(l -> l.getInteger("step", -1) == i).findFirst()
                    .orElseThrow(() -> new AssertionError("no output for step " + i + ": " + lines));
        }

        JsonObject summary() {
            return lines.getLast().getJsonObject("summary");
        }
    }

    static Run finish(Process p) throws Exception {
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("harness did not finish");
        }
        List<JsonObject> lines = new ArrayList<>();
        for (String line : new String(out, StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) lines.add(new JsonObject(line));
        }
        return new Run(p.exitValue(), lines);
    }

    static JsonObject call(String tool, JsonObject args) {
        return new JsonObject().put("call", tool).put("args", args);
    }

    static JsonArray steps(JsonObject... steps) {
        JsonArray a = new JsonArray();
        for (JsonObject s : steps) a.add(s);
        return a;
    }
}
