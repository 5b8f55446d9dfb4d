package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.vm.DriverCapabilities;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.VmSpec;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A driver whose shares are always writable (vfkit) gets the user's objects as a copy-on-write
 * clone or a real copy, never a hardlink: on this file system (not APFS), the workspace shares no
 * inode with the user's object store, and a guest writing through its share to the workspace's
 * object files leaves the user's objects as they were.
 */
class WritableShareWorkspaceTest {
    @TempDir Path tmp;

    /** The process driver with vfkit's share ability: no read-only shares. */
    static final class WritableSharesDriver extends ProcessDriver {
        @Override
        public DriverCapabilities capabilities() {
            DriverCapabilities c = super.capabilities();
            return new DriverCapabilities(false, c.mapsShareOwnership(), c.networks(), c.guestToHost(), c.architectures(), c.snapshots(),
                    c.bootsImages());
        }
    }

    @Test
    void aWorkspaceForWritableSharesHoldsNoHardlinkToTheUsersObjectsAndAGuestWritingThroughItChangesNoneOfThem() throws Exception {
        assertThat(new VfkitDriver(VfkitOptions.defaults()).capabilities().readOnlyShares()).as("vfkit's shares are always writable").isFalse();
        Path repo = GitRepos.create(tmp.resolve("project"));
        Files.writeString(repo.resolve("more.txt"), "more\n");
        GitRepos.git(repo, "add", "more.txt");
        GitRepos.git(repo, "commit", "-qm", "more");
        GitRepos.git(repo, "gc", "-q"); // packs and their indexes, as well as loose objects below
        Files.writeString(repo.resolve("loose.txt"), "loose\n");
        GitRepos.git(repo, "add", "loose.txt");
        GitRepos.git(repo, "commit", "-qm", "loose");
        Path userObjects = repo.resolve(".git/objects");
        Map<String, String> before = digests(userObjects);
        assertThat(before.keySet()).anyMatch(p -> p.startsWith("pack/")).anyMatch(p -> p.matches("[0-9a-f]{2}/.*"));

        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Files.createDirectories(paths.root());
        OrchestratorConfig config = OrchestratorConfig.defaults(paths.root()).merge(new JsonObject().put("driver", "process").put("slot_disk_gib", 1), "test");
        TaskStore store = new TaskStore(paths);
        TaskRecord r = TaskRecord.queued("t-writable", "project", repo.toString(), "edit", "caller", "node",
                        TaskOptions.fromJson(new JsonObject().put("agent_command", "true")), null, "2026-01-01T00:00:00Z")
                .moveTo(TaskState.STARTING, "2026-01-01T00:00:01Z").withSlot(0);
        store.save(r);
        WritableSharesDriver driver = new WritableSharesDriver();
        VmSpecs specs = new VmSpecs(paths, config, driver);
        JsonObject prepared = new GitWorkspaceOperations(paths, config, store, driver, specs, Optional::empty,
                new TaskEnvironments(new dev.microvm.orchestrator.config.HostEnvironments(paths), new dev.microvm.orchestrator.secrets.RepoSecrets(paths), store, java.util.Optional::empty),
                new WarmSlots(paths, 64L << 20, java.time.Clock.systemUTC()))
                .prepare(r.id(), Optional.empty(), 0);

        assertThat(prepared.getString("method")).isIn("clone-cow", "copy");
        assertThat(prepared.getString("shared_objects_dir")).isNull();
        VmSpec spec = specs.specFor(r.withPrepared(prepared));
        assertThat(spec.shares()).noneMatch(VmSpec.Share::readOnly).noneMatch(s -> s.tag().equals(GuestContract.TAG_OBJECTS));

        Path workspaceObjects = paths.taskWorkspace(r.id()).resolve(".git/objects");
        Set<Object> userInodes = inodes(userObjects);
        Set<Object> workspaceInodes = inodes(workspaceObjects);
        assertThat(workspaceInodes).isNotEmpty().doesNotContainAnyElementsOf(userInodes);
        try (Stream<Path> files = Files.walk(userObjects)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                assertThat((Integer) Files.getAttribute(f, "unix:nlink")).as("links to %s", f).isEqualTo(1);
            }
        }
        assertThat(GitRepos.git(paths.taskWorkspace(r.id()), "rev-list", "--count", "HEAD")).isEqualTo("3");

        // the guest, root in its VM, writes over every object file it can see through its share
        try (Stream<Path> files = Files.walk(workspaceObjects)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                f.toFile().setWritable(true);
                Files.writeString(f, "changed by the guest\n", StandardCharsets.UTF_8);
            }
        }
        assertThat(digests(userObjects)).isEqualTo(before);
        GitRepos.git(repo, "fsck", "--full", "--strict");
    }

    private static Set<Object> inodes(Path dir) throws Exception {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).map(f -> {
                try {
                    return Files.getAttribute(f, "unix:ino");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).collect(Collectors.toSet());
        }
    }

    private static Map<String, String> digests(Path dir) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.put(dir.relativize(f).toString(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
            }
        }
        return out;
    }
}
