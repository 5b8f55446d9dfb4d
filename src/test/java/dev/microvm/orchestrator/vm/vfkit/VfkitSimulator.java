package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.GuestRunnerFiles;
import dev.microvm.orchestrator.vm.TestGuest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The vfkit simulator (scripts/vfkit-simulator), the project's one vfkit grammar, as a vfkit
 * executable the driver can be given: a wrapper that chooses the simulator's guest backend.
 */
public final class VfkitSimulator {
    private VfkitSimulator() {}

    public static Path script() {
        return TestGuest.projectDir().resolve("scripts/vfkit-simulator");
    }

    /** A vfkit whose guest is the task runner run as a host process (no VM): fast contract tests. */
    static Path install(Path dir) throws IOException {
        return install(dir, GuestRunnerFiles.runnerScript());
    }

    /** The same with another script in the task runner's place. */
    static Path install(Path dir, String runnerScript) throws IOException {
        Files.createDirectories(dir);
        Path runner = dir.resolve("mvo-runner.sh");
        replace(runner, runnerScript);
        return wrapper(dir, Map.of("VFKIT_SIMULATOR_GUEST", "host", "VFKIT_SIMULATOR_RUNNER", runner.toString()));
    }

    /** A vfkit whose guest is a real arm64 VM under qemu-system-aarch64. */
    public static Path installQemu(Path dir) throws IOException {
        Files.createDirectories(dir);
        return wrapper(dir, Map.of("VFKIT_SIMULATOR_GUEST", "qemu"));
    }

    private static Path wrapper(Path dir, Map<String, String> env) throws IOException {
        StringBuilder sh = new StringBuilder("#!/bin/sh\n");
        env.forEach((k, v) -> sh.append(k).append("='").append(v).append("' "));
        sh.append("exec python3 '").append(script()).append("' \"$@\"\n");
        Path exe = dir.resolve("vfkit");
        replace(exe, sh.toString());
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        return exe;
    }

    /**
     * Written beside and renamed into place: a simulator started by an earlier install may be
     * opening the file right now and must never see it missing or half written.
     */
    private static void replace(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The outcome of the simulator's check mode: parse and validate a vfkit command line, boot nothing. */
    public record Check(int exitCode, String stdout, String stderr) {}

    /** Runs {@code argv} (without the executable) through the simulator's grammar only. */
    public static Check check(List<String> argv) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", script().toString()));
        cmd.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("VFKIT_SIMULATOR_CHECK", "1");
        Process p = pb.start();
        p.getOutputStream().close();
        var err = p.getErrorStream();
        byte[] out = p.getInputStream().readAllBytes();
        String stderr = new String(err.readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("the vfkit simulator's check did not finish");
        }
        return new Check(p.exitValue(), new String(out, StandardCharsets.UTF_8), stderr);
    }
}
