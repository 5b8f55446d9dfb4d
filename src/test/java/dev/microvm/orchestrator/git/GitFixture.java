package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Builds real repositories with the git command line, isolated from any personal git configuration. */
final class GitFixture {
    private GitFixture() {
    }

    static String git(Path dir, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("git");
        cmd.addAll(Arrays.asList(args));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Map<String, String> env = pb.environment();
            env.put("GIT_CONFIG_GLOBAL", "/dev/null");
            env.put("GIT_CONFIG_NOSYSTEM", "1");
            env.put("GIT_AUTHOR_NAME", "Test User");
            env.put("GIT_AUTHOR_EMAIL", "user@example.com");
            env.put("GIT_COMMITTER_NAME", "Test User");
            env.put("GIT_COMMITTER_EMAIL", "user@example.com");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("git " + String.join(" ", args) + " in " + dir + " failed: " + out);
            }
            return out.strip();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A repository on branch main with one commit containing {@code a.txt} and {@code b.txt}. */
    static Path newRepo(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        git(dir, "init", "-q", "-b", "main");
        write(dir, "a.txt", "a1\na2\na3\n");
        write(dir, "b.txt", "b1\nb2\nb3\n");
        commitAll(dir, "initial");
        return dir;
    }

    static String commitAll(Path dir, String message) {
        git(dir, "add", "-A");
        git(dir, "commit", "-q", "--allow-empty", "-m", message);
        return head(dir);
    }

    static String head(Path dir) {
        return git(dir, "rev-parse", "HEAD");
    }

    static void write(Path dir, String path, String content) {
        try {
            Path file = dir.resolve(path);
            Files.createDirectories(file.getParent());
            Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String read(Path dir, String path) {
        try {
            return Files.readString(dir.resolve(path), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What the in-guest runner does after the agent finished: bundle the new commits, if any. */
    static Path bundle(Path workspace, String agentBase, Path out) {
        if (git(workspace, "rev-parse", "HEAD").equals(agentBase)) {
            return out;
        }
        git(workspace, "bundle", "create", "-q", out.toString(), agentBase + "..HEAD");
        return out;
    }

    static String status(Path dir) {
        return git(dir, "status", "--porcelain=v1", "--untracked-files=all");
    }
}
