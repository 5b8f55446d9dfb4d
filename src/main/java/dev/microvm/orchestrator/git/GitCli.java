package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the git command line on directories the host itself created (never on guest-written
 * ones). Hooks and fsmonitor are switched off and git's repository-selecting environment
 * variables are removed so that only the given directory is touched.
 */
final class GitCli {
    private static final List<String> SAFETY = List.of(
            "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "advice.detachedHead=false");
    private static final long TIMEOUT_MINUTES = 30;
    private static volatile Boolean available;

    private GitCli() {
    }

    static boolean isAvailable() {
        Boolean known = available;
        if (known == null) {
            try {
                known = run(Path.of("."), List.of("--version")).exitCode == 0;
            } catch (IOException e) {
                known = false;
            }
            available = known;
        }
        return known;
    }

    record Outcome(int exitCode, String output) {
    }

    static Outcome run(Path dir, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("git");
        cmd.addAll(SAFETY);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        for (String name : List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES")) {
            env.remove(name);
        }
        env.put("GIT_TERMINAL_PROMPT", "0");
        Process process = pb.start();
        byte[] out = process.getInputStream().readAllBytes();
        try {
            if (!process.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("git " + args + " timed out");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running git " + args, e);
        }
        return new Outcome(process.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    static void runOrThrow(Path dir, List<String> args) throws IOException {
        Outcome outcome = run(dir, args);
        if (outcome.exitCode != 0) {
            throw new IOException("git " + String.join(" ", args) + " failed (" + outcome.exitCode + "): "
                    + outcome.output.strip());
        }
    }
}
