package dev.microvm.orchestrator.vm;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * The guest images built by scripts/build-guest.sh (built on first use, then cached), read through
 * their manifests like the orchestrator reads them. {@link #get()} is the small scripted-agent
 * image most VM tests boot; {@link #agent()} is the default image with Claude Code in its store.
 * Locally a missing QEMU skips the VM tests; with CI=true nothing skips: a missing piece fails.
 */
public final class TestGuest {
    public final GuestImage image;
    public final Path dir;
    public final Path kernel;
    public final Path initrd;

    private TestGuest(Path dir) {
        this.image = GuestImage.load(dir);
        this.dir = image.dir();
        this.kernel = image.kernel();
        this.initrd = image.initrd();
    }

    private static final Map<String, TestGuest> CACHED = new HashMap<>();

    /** The scripted-agent image (everything in its initrd; no Claude Code). */
    public static TestGuest get() {
        return variant("scripted");
    }

    /** The default agent image: small initrd plus the read-only store disk with Claude Code. */
    public static TestGuest agent() {
        return variant("agent");
    }

    /** The arm64 agent image (vfkit's guests; booted here under qemu-system-aarch64 by the vfkit simulator). */
    public static TestGuest agentArm64() {
        return variant("agent-arm64", "/usr/bin/qemu-system-aarch64");
    }

    private static TestGuest variant(String variant) {
        return variant(variant, "/usr/bin/qemu-system-x86_64");
    }

    private static synchronized TestGuest variant(String variant, String qemu) {
        TestGuest cached = CACHED.get(variant);
        if (cached != null) return cached;
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI")) || "1".equals(System.getenv("MVO_REQUIRE_VM"));
        if (!Files.isExecutable(Path.of(qemu)) && !ci) {
            Assumptions.abort(qemu + " not installed");
        }
        Path script = projectDir().resolve("scripts/build-guest.sh");
        try {
            Path log = Files.createTempFile("mvo-guest-build", ".log");
            Process p = new ProcessBuilder("sh", script.toString(), variant).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
                String out = Files.readString(log, StandardCharsets.UTF_8);
                if (ci) fail("building the " + variant + " guest failed:\n" + out);
                Assumptions.abort("cannot build the " + variant + " guest here:\n" + out);
            }
            String[] lines = Files.readString(log, StandardCharsets.UTF_8).strip().split("\n");
            cached = new TestGuest(Path.of(lines[lines.length - 1].strip()));
            CACHED.put(variant, cached);
            return cached;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * A copy of this image (files linked, not copied) whose manifest adds {@code extraCmdline}: for
     * tests that need a guest booted with a test knob such as {@code mvo.test.agent_as_root=1}.
     */
    public Path derived(Path into, String extraCmdline) throws IOException {
        Files.createDirectories(into);
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (f.getFileName().toString().equals(GuestImage.MANIFEST)) continue;
                Files.createSymbolicLink(into.resolve(f.getFileName()), f);
            }
        }
        var manifest = new io.vertx.core.json.JsonObject(Files.readString(dir.resolve(GuestImage.MANIFEST)));
        manifest.put("cmdline", manifest.getString("cmdline") + " " + extraCmdline);
        Files.writeString(into.resolve(GuestImage.MANIFEST), manifest.encodePrettily());
        return into;
    }

    public static Path projectDir() {
        return Path.of(System.getProperty("project.basedir", ".")).toAbsolutePath();
    }
}
