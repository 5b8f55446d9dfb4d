package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Starts a {@code serve} daemon for a state directory as a detached process: what a stdio MCP
 * process does when it ends (end of input, SIGINT, SIGTERM) while it still runs tasks, so they
 * finish with no client attached. The daemon adopts them once this process has let go of their
 * owner locks. It runs with {@code --auto-exit}: it ends by itself after
 * {@code daemon_idle_exit_seconds} with no unfinished task and no attached client.
 *
 * <p>Fast on purpose (a process start, nothing awaited): Claude Code sends SIGKILL about half a
 * second after SIGINT. The daemon's output goes to {@code daemon/daemon.log}; its environment is
 * this process's (credentials included, as the embedded node had them), never its argv.
 */
public final class DaemonLauncher {

    private static final Path SETSID = Path.of("/usr/bin/setsid");

    private DaemonLauncher() {}

    /** The pid of a daemon started now, or empty when one already serves the directory. */
    public static Optional<Long> ensureRunning(StatePaths paths) throws IOException {
        if (DaemonEndpoint.find(paths).isPresent()) return Optional.empty();
        AtomicFiles.privateDirectory(DaemonEndpoint.directory(paths));
        Path log = DaemonEndpoint.directory(paths).resolve("daemon.log");
        if (!Files.exists(log)) Files.createFile(log, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Process p = new ProcessBuilder(command(paths))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true)
                .start();
        return Optional.of(p.pid());
    }

    /** This JVM's launcher and class path running {@code serve --auto-exit}; in its own session where setsid exists. */
    static List<String> command(StatePaths paths) {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETSID)) cmd.add(SETSID.toString()); // signals to the client's process group do not reach it
        cmd.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.microvm.orchestrator.cli.Main");
        cmd.add("serve");
        cmd.add("--state-dir");
        cmd.add(paths.root().toAbsolutePath().toString());
        cmd.add("--auto-exit");
        return cmd;
    }
}
