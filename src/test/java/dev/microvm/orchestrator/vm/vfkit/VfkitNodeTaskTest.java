package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A task on a node whose driver is vfkit (the vfkit simulator, which enforces vfkit's argv grammar):
 * vfkit shares are always writable, so the user's objects reach the guest as a clone, never as a
 * read-only share (which vfkit refuses).
 */
class VfkitNodeTaskTest {
    @TempDir Path tmp;

    @Test
    void aTaskRunsWithClonedObjectsBecauseVfkitCannotShareReadOnly() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "vfkit", arm64Image(tmp.resolve("guest")), 1);
        VfkitDriver driver = new VfkitDriver(new VfkitOptions(VfkitSimulator.install(tmp.resolve("bin")).toString(), false));
        try (NodeFixture f = NodeFixture.start(state, config, driver)) {
            f.node.repos().allow(repo, "project");
            assertThat(f.request(Addresses.NODE_DRIVER, new JsonObject()).getBoolean("healthy")).isTrue();
            JsonObject task = f.submit("project", "commit", new JsonObject().put("network", "none")
                    .put("agent_command", "echo v > v.txt && git add v.txt && git commit -qm vfkit"));
            JsonObject done = f.awaitTerminal(task.getString("task_id"), Duration.ofSeconds(90));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getJsonObject("prepared").getString("method")).isNotEqualTo("alternates");
            assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "refs/tasks/" + task.getString("task_id"))).isEqualTo("vfkit");
        }
    }

    /** An aarch64 image whose kernel and initrd the vfkit simulator's host guest only checks for presence. */
    static Path arm64Image(Path dir) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("Image"), "kernel");
        Files.writeString(dir.resolve("initrd"), "initrd");
        Files.writeString(dir.resolve("mvo-image.json"), new JsonObject().put("manifest_version", 1).put("image_version", "fake")
                .put("architecture", "aarch64").put("kernel", "Image").put("initrd", "initrd").put("cmdline", "panic=-1")
                .put("console", "hvc0").put("disks", new JsonArray())
                .put("agent_user", new JsonObject().put("name", "agent").put("uid", 1000).put("gid", 1000).put("home", "/home/agent"))
                .put("agents", new JsonArray()).encode());
        return dir;
    }
}
