package dev.microvm.orchestrator.testing;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The real Claude Code CLI on the host, at the version pinned for the guest images
 * (nixos-vm/agents/claude-code.json): {@code MVO_CLAUDE_BIN}, else an npm install under target/.
 * Locally an npm failure skips the test; in CI it fails it.
 */
public final class ClaudeCode {
    private ClaudeCode() {}

    /** The pinned version, the one every guest image carries. */
    public static String pinnedVersion() {
        try {
            Path pin = Path.of(System.getProperty("project.basedir", ".")).resolve("nixos-vm/agents/claude-code.json");
            return new JsonObject(Files.readString(pin)).getString("version");
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the Claude Code pin", e);
        }
    }

    /**
     * Gives {@code pb} the environment of a headless test run: nothing of the developer's own (no
     * credentials), the given API address and key, no telemetry, updates or retries.
     */
    public static ProcessBuilder headless(ProcessBuilder pb, Path home, String baseUrl, String apiKey) {
        var env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.put("HOME", home.toString());
        env.put("ANTHROPIC_BASE_URL", baseUrl);
        env.put("ANTHROPIC_API_KEY", apiKey);
        env.put("DISABLE_TELEMETRY", "1");
        env.put("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        env.put("DISABLE_AUTOUPDATER", "1");
        env.put("CLAUDE_CODE_MAX_RETRIES", "0");
        return pb;
    }

    public static synchronized Path binary() throws Exception {
        String configured = System.getenv("MVO_CLAUDE_BIN");
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        String version = pinnedVersion();
        Path prefix = Path.of(System.getProperty("project.basedir", "."), "target", "test-tools", "claude-code-" + version);
        Path bin = prefix.resolve("node_modules/.bin/claude");
        if (!Files.isExecutable(bin)) {
            Files.createDirectories(prefix);
            int rc;
            Path log = prefix.resolve("npm-install.log");
            try {
                Process npm = new ProcessBuilder("npm", "install", "--no-audit", "--no-fund", "--prefix", prefix.toString(),
                        "@anthropic-ai/claude-code@" + version)
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                rc = npm.waitFor(300, TimeUnit.SECONDS) ? npm.exitValue() : -1;
            } catch (IOException e) {
                rc = -2;
            }
            if (rc != 0 || !Files.isExecutable(bin)) {
                String why = "could not install @anthropic-ai/claude-code@" + version + " with npm (exit " + rc + "), see " + log;
                if ("true".equals(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"))) throw new AssertionError(why);
                Assumptions.abort(why);
            }
        }
        return bin;
    }
}
