package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs the git command line on directories the host itself created (never on guest-written
 * ones). Hooks and fsmonitor are switched off and git's repository-selecting environment
 * variables are removed so that only the given directory is touched.
 */
final class GitCli {
    private static final List<String> SAFETY = List.of(
            "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "advice.detachedHead=false");
    private static final List<String> REPOSITORY_ENV = List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES");
    static final Duration TIMEOUT = Duration.ofMinutes(30);
    private static volatile Boolean available;

    private GitCli() {
    }

    static boolean isAvailable() {
        Boolean known = available;
        if (known == null) {
            try {
                known = run(Path.of("."), List.of("--version"), Duration.ofSeconds(30)).exitCode() == 0;
            } catch (IOException e) {
                known = false;
            }
            available = known;
        }
        return known;
    }

    static ProcessRunner.Result run(Path dir, List<String> args, Duration timeout) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("git");
        cmd.addAll(SAFETY);
        cmd.addAll(args);
        return ProcessRunner.of(cmd).directory(dir).timeout(timeout)
                .withoutEnvironment(REPOSITORY_ENV).environment(Map.of("GIT_TERMINAL_PROMPT", "0")).run();
    }

    static void runOrThrow(Path dir, List<String> args) throws IOException {
        ProcessRunner.Result outcome = run(dir, args, TIMEOUT);
        if (outcome.exitCode() != 0) {
            throw new IOException("git " + String.join(" ", args) + " failed (" + outcome.exitCode() + "): "
                    + outcome.output().strip());
        }
    }
}
