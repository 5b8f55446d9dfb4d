package dev.microvm.orchestrator.git.bench;

import dev.microvm.orchestrator.git.PrepareRequest;
import dev.microvm.orchestrator.git.PreparedWorkspace;
import dev.microvm.orchestrator.git.WorkspacePreparer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Measures how long preparing a task workspace takes for one repository, comparing our method
 * with the {@code git init && git fetch && checkout} method and with a plain checkout of the
 * same tree (the floor: the same {@code read-tree -u} that writes the files and an index, into an
 * empty directory, without any repository set-up). Prints a small report on standard output.
 *
 * <p>Usage: {@code PrepareBenchmark <repo> <scratch-dir> [runs]}
 */
public final class PrepareBenchmark {
    private PrepareBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: PrepareBenchmark <repo> <scratch-dir> [runs]");
            System.exit(2);
        }
        Path repo = Path.of(args[0]).toAbsolutePath();
        Path scratch = Path.of(args[1]).toAbsolutePath();
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        Files.createDirectories(scratch);
        String head = git(repo, List.of("rev-parse", "HEAD"), Map.of()).strip();
        String commits = git(repo, List.of("rev-list", "--count", "HEAD"), Map.of()).strip();
        String files = String.valueOf(git(repo, List.of("ls-tree", "-r", "--name-only", "HEAD"), Map.of()).lines().count());
        WorkspacePreparer preparer = new WorkspacePreparer();
        int[] counter = {0};

        Callable<String> ours = () -> {
            String id = "bench" + counter[0]++;
            PreparedWorkspace ws = preparer.prepare(new PrepareRequest(repo, scratch.resolve(id), null, false, List.of(),
                    "/run/mvo/objects", id));
            return ws.method();
        };
        Callable<String> cloned = () -> {
            String id = "bench" + counter[0]++;
            PreparedWorkspace ws = preparer.prepare(new PrepareRequest(repo, scratch.resolve(id), null, false, List.of(),
                    null, id));
            return ws.method();
        };
        Callable<String> original = () -> {
            Path dir = Files.createDirectories(scratch.resolve("orig" + counter[0]++));
            git(dir, List.of("init", "--quiet"), Map.of());
            git(dir, List.of("remote", "add", "origin", repo.toString()), Map.of());
            git(dir, List.of("fetch", "origin", "--quiet"), Map.of());
            git(dir, List.of("checkout", "-b", "task-bench", head, "--quiet"), Map.of());
            return "git init + fetch";
        };
        Callable<String> plain = () -> {
            Path dir = Files.createDirectories(scratch.resolve("plain" + counter[0]++));
            git(repo, List.of("--work-tree=" + dir, "read-tree", "--reset", "-u", head),
                    Map.of("GIT_INDEX_FILE", dir.resolve(".bench-index").toString()));
            return "checkout";
        };

        System.out.printf("repository: %s%ncommits: %s, files: %s, runs per method: %d (median)%n", repo, commits, files, runs);
        ours.call(); // warm up the JVM once; not measured
        Result floor = measure("plain checkout (floor)", plain, runs, scratch);
        Result ourResult = measure("ours", ours, runs, scratch);
        Result originalResult = measure("original (init+fetch+checkout)", original, runs, scratch);
        Result clonedResult = measure("ours without read-only share", cloned, Math.min(runs, 3), scratch);
        for (Result r : List.of(floor, ourResult, originalResult, clonedResult)) {
            System.out.printf("%-34s %9.1f ms  %5.2fx floor  [%s]%n", r.name, r.millis, r.millis / floor.millis, r.method);
        }
        if (clonedResult.method.equals("copy")) {
            System.out.println("note: without a read-only share this file system offered no copy-on-write clone;"
                    + " objects were byte-copied (last resort)");
        }
        double ratio = ourResult.millis / floor.millis;
        System.out.printf("ours / floor = %.2f (target <= 1.30): %s%n", ratio, ratio <= 1.30 ? "PASS" : "FAIL");
    }

    private record Result(String name, double millis, String method) {
    }

    private static Result measure(String name, Callable<String> action, int runs, Path scratch) throws Exception {
        List<Double> times = new ArrayList<>();
        String method = "";
        for (int i = 0; i < runs; i++) {
            dropCaches(scratch);
            long start = System.nanoTime();
            method = action.call();
            times.add((System.nanoTime() - start) / 1e6);
        }
        Collections.sort(times);
        return new Result(name, times.get(times.size() / 2), method);
    }

    /** Removes earlier runs' output so every run writes into an empty directory. */
    private static void dropCaches(Path scratch) throws IOException {
        try (var entries = Files.list(scratch)) {
            for (Path p : entries.toList()) {
                deleteTree(p);
            }
        }
    }

    private static String git(Path dir, List<String> args, Map<String, String> env) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("git", "-c", "core.hooksPath=/dev/null"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException("git " + args + " failed: " + out);
        }
        return out;
    }

    private static void deleteTree(Path dir) throws IOException {
        dev.microvm.orchestrator.util.FileTrees.delete(dir);
    }
}
