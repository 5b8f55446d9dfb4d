package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;

/**
 * How one MCP server runs.
 *
 * @param paths            state directory (event log, delivery cursors)
 * @param caller           caller id, see {@link CallerIdentity}
 * @param in               protocol input (stdin)
 * @param out              protocol output (stdout): nothing else may write there
 * @param progressInterval progress notifications while wait_next_event waits (Claude Code's idle watchdog is 30 min)
 * @param pollInterval     how often a wait re-reads the event log (other processes append to it)
 * @param defaultWait      wait_next_event timeout when the caller gives none; below the 30 min idle watchdog
 * @param busTimeout       event-bus request timeout for ordinary tools
 * @param version          server version reported in initialize
 * @param guest            what the default guest image offers, as read at start (the tool descriptions say it)
 */
public record McpSettings(StatePaths paths, String caller, InputStream in, OutputStream out,
                          Duration progressInterval, Duration pollInterval, Duration defaultWait,
                          Duration busTimeout, String version, GuestFeatures guest) {

    public static final Duration DEFAULT_PROGRESS = Duration.ofSeconds(20);
    public static final Duration DEFAULT_POLL = Duration.ofSeconds(1);
    public static final Duration DEFAULT_WAIT = Duration.ofMinutes(25);
    public static final Duration DEFAULT_BUS_TIMEOUT = Duration.ofSeconds(60);
    /** Overrides for tests and tuning (milliseconds). */
    public static final String PROGRESS_ENV = "MICROVM_ORCHESTRATOR_MCP_PROGRESS_MS";
    public static final String POLL_ENV = "MICROVM_ORCHESTRATOR_MCP_POLL_MS";

    public McpSettings {
        StatePaths.requireId(StatePaths.CALLER_ID, caller, "caller id");
        if (progressInterval.isZero() || progressInterval.isNegative() || progressInterval.compareTo(Duration.ofSeconds(30)) > 0) {
            throw new IllegalArgumentException("progress interval must be between 1 ms and 30 s, got " + progressInterval);
        }
        if (guest == null) guest = GuestFeatures.unknown();
    }

    /** Settings that know nothing of the guest image. */
    public McpSettings(StatePaths paths, String caller, InputStream in, OutputStream out, Duration progressInterval,
                       Duration pollInterval, Duration defaultWait, Duration busTimeout, String version) {
        this(paths, caller, in, out, progressInterval, pollInterval, defaultWait, busTimeout, version, GuestFeatures.unknown());
    }

    /** These settings with what the default guest image offers. */
    public McpSettings withGuest(GuestFeatures features) {
        return new McpSettings(paths, caller, in, out, progressInterval, pollInterval, defaultWait, busTimeout, version, features);
    }

    /**
     * Settings for the real stdio server. Takes the process's stdin and stdout for the protocol
     * and points {@code System.out} at stderr, so a stray print can never corrupt the protocol.
     */
    public static McpSettings claimStdio(StatePaths paths, Map<String, String> env, String version) {
        InputStream stdin = new FileInputStream(FileDescriptor.in);
        OutputStream stdout = new FileOutputStream(FileDescriptor.out);
        System.out.flush();
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
        return new McpSettings(paths, CallerIdentity.fromEnvironment(env), stdin, stdout,
                millis(env, PROGRESS_ENV, DEFAULT_PROGRESS), millis(env, POLL_ENV, DEFAULT_POLL),
                DEFAULT_WAIT, DEFAULT_BUS_TIMEOUT, version);
    }

    private static Duration millis(Map<String, String> env, String name, Duration fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Duration.ofMillis(Long.parseLong(v.strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number of milliseconds, got '" + v + "'");
        }
    }
}
