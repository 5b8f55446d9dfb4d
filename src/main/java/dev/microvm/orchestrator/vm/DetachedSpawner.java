package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts a hypervisor process that outlives the orchestrator: in a new session (so the signals
 * that end the orchestrator's process group never reach it), stdin from /dev/null, output to a
 * file, and a scrubbed environment (the orchestrator inherits its client's whole environment,
 * API keys included). The pid returned is the hypervisor's own: the session helper execs it.
 */
public final class DetachedSpawner {
    private final boolean macOs;

    public DetachedSpawner() {
        this(System.getProperty("os.name", "").toLowerCase().contains("mac"));
    }

    DetachedSpawner(boolean macOs) {
        this.macOs = macOs;
    }

    /** The command prefix that puts {@code argv} into a session of its own. */
    public List<String> sessionPrefix() {
        // macOS has no setsid(1); perl ships with the OS and exposes setsid(2).
        return macOs
                ? List.of("/usr/bin/perl", "-MPOSIX", "-e", "POSIX::setsid(); exec { $ARGV[0] } @ARGV or die \"exec $ARGV[0]: $!\\n\"")
                : List.of("setsid");
    }

    /**
     * True while {@code ph} still runs one of the programs that precede the hypervisor in the
     * spawned pid: the JDK's launch helper ({@code jspawnhelper}) or the session helper. Their
     * arguments may already carry the hypervisor's, so only the executable tells them apart.
     */
    public boolean isHelper(ProcessHandle ph) {
        String command = ph.info().command().orElse("");
        if (command.isEmpty()) return true; // not readable yet (or any more): not known to be the hypervisor
        String base = command.substring(command.lastIndexOf('/') + 1);
        String helper = sessionPrefix().get(0);
        // nsenter: QEMU under network full is started in its namespace through it (then exec'd)
        return base.equals("jspawnhelper") || base.equals("nsenter") || base.equals(helper.substring(helper.lastIndexOf('/') + 1));
    }

    /**
     * Spawns {@code argv} detached. {@code extraEnv} is added to the scrubbed base environment.
     *
     * @param output file receiving the process's stdout and stderr (appended)
     */
    public Process spawn(List<String> argv, Map<String, String> extraEnv, Path output) throws IOException {
        List<String> command = new ArrayList<>(sessionPrefix());
        command.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(ProcessRunner.BASE_ENV); // nothing else from the orchestrator's environment
        pb.environment().put("HOME", output.getParent().toString());
        pb.environment().putAll(extraEnv);
        Files.createDirectories(output.getParent());
        pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()));
        pb.redirectErrorStream(true);
        // the pid runs jspawnhelper, then the session helper, then the hypervisor:
        // DetachedVmDriver.start waits for the last (isHelper turns false)
        return pb.start();
    }
}
