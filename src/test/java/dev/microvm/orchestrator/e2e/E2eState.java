package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

/**
 * A state directory as a user would have it after setup: config.json for small TCG guests and one
 * registered repository. Orchestrator processes started by a test read exactly this.
 */
final class E2eState {

    final Path root;
    final Path repo;
    final StatePaths paths;

    private E2eState(Path root, Path repo) {
        this.root = root;
        this.repo = repo;
        this.paths = new StatePaths(root);
    }

    static E2eState create(Path tmp, int slots, JsonObject extraConfig) throws IOException {
        Path guestDir = TestGuest.get().dir;
        Path root = tmp.resolve("state");
        Files.createDirectories(root);
        JsonObject config = new JsonObject().put("driver", "qemu").put("accelerator", "tcg").put("vm_cpus", 1)
                .put("vm_memory_mib", 512).put("slot_disk_gib", 1).put("http_port", 0).put("slots", slots)
                .put("guest_dir", guestDir.toString()).put("boot_timeout_seconds", 120).put("stop_grace_seconds", 5);
        config.mergeIn(extraConfig == null ? new JsonObject() : extraConfig);
        Files.writeString(root.resolve("config.json"), config.encodePrettily());
        Path repo = GitRepos.create(tmp.resolve("project"));
        new RepoRegistry(new StatePaths(root), Clock.systemUTC()).allow(repo, "project");
        return new E2eState(root, repo);
    }

    String git(String... args) throws IOException {
        return GitRepos.git(repo, args);
    }

    JsonObject taskRecord(String taskId) throws IOException {
        Path file = paths.taskRecord(taskId);
        return Files.exists(file) ? new JsonObject(Files.readString(file)) : null;
    }
}
