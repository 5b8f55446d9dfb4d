package dev.microvm.orchestrator.vm;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * The test guest built by scripts/build-test-guest.sh (built on first use, then cached). Locally a
 * missing QEMU skips the VM tests; with CI=true nothing skips: a missing piece fails the test.
 */
public final class TestGuest {
    public final Path kernel;
    public final Path initrd;

    private TestGuest(Path dir) {
        this.kernel = dir.resolve("vmlinux");
        this.initrd = dir.resolve("initrd.cpio.gz");
    }

    private static TestGuest cached;

    public static synchronized TestGuest get() {
        if (cached != null) return cached;
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
        if (!Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")) && !ci) {
            Assumptions.abort("qemu-system-x86_64 not installed");
        }
        Path script = projectDir().resolve("scripts/build-test-guest.sh");
        try {
            Path log = Files.createTempFile("mvo-guest-build", ".log");
            Process p = new ProcessBuilder("sh", script.toString()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
                String out = Files.readString(log, StandardCharsets.UTF_8);
                if (ci) fail("building the test guest failed:\n" + out);
                Assumptions.abort("cannot build the test guest here:\n" + out);
            }
            String[] lines = Files.readString(log, StandardCharsets.UTF_8).strip().split("\n");
            cached = new TestGuest(Path.of(lines[lines.length - 1].strip()));
            return cached;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static Path projectDir() {
        return Path.of(System.getProperty("project.basedir", ".")).toAbsolutePath();
    }
}
