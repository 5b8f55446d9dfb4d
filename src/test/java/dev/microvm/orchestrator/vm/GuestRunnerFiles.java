package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The runner files of {@code nixos-vm/runner} as the test suite sees them (test resources under
 * {@code guest/}): the script the host-process driver and the vfkit simulator's host guest run, and the kernel
 * parameters every image needs, for test guests booted without a manifest.
 */
public final class GuestRunnerFiles {

    private GuestRunnerFiles() {}

    public static final String RUNNER_RESOURCE = "/guest/mvo-runner.sh";
    public static final String CMDLINE_RESOURCE = "/guest/kernel-cmdline";

    /** Kernel parameters every image needs (nixos-vm/runner/kernel-cmdline); callers add the console. */
    public static final String BASE_CMDLINE = resource(CMDLINE_RESOURCE).strip();

    /** Kernel command line for a guest whose console is {@code consoleDevice} (ttyS0, hvc0). */
    public static String kernelCmdline(String consoleDevice, String imageSpecific) {
        String extra = imageSpecific == null || imageSpecific.isBlank() ? "" : " " + imageSpecific.strip();
        return "console=" + consoleDevice + " " + BASE_CMDLINE + extra;
    }

    /** The in-guest task runner, as shipped on the classpath. */
    public static String runnerScript() {
        return resource(RUNNER_RESOURCE);
    }

    private static String resource(String name) {
        try (InputStream in = GuestRunnerFiles.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("guest file missing from classpath: " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
