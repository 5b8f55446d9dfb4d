package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.git.BundleImporter;
import dev.microvm.orchestrator.git.ImportResult;
import dev.microvm.orchestrator.testing.GitRepos;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Real repositories: a home repository ships to another host's object cache only what that cache
 * lacks, and the work done there comes home as a bundle of just the new commits, imported into
 * {@code refs/tasks/<id>} with object checking.
 */
class ObjectShippingTest {

    private static final long MAX = 64L << 20;

    @TempDir Path tmp;

    @Test
    void onlyMissingObjectsTravelOutAndOnlyNewCommitsComeBack() throws Exception {
        Path home = GitRepos.create(tmp.resolve("home"));
        byte[] big = new byte[300_000];
        new Random(7).nextBytes(big);
        Files.write(home.resolve("data.bin"), big);
        GitRepos.git(home, "add", "data.bin");
        GitRepos.git(home, "commit", "-q", "-m", "large file");
        String first = GitRepos.git(home, "rev-parse", "HEAD").strip();

        ObjectCache cache = new ObjectCache(tmp.resolve("cache"));
        RepoKey key = new RepoKey("alpha", "demo");
        assertThat(cache.haves(key)).isEmpty();

        ObjectShipping.Shipment full = ship(home, first, cache.haves(key), tmp.resolve("s1.bundle"));
        assertThat(full.assumed()).isZero();
        assertThat(full.bytes()).isGreaterThan(big.length);
        cache.receive(key, full.file(), MAX);
        assertThat(cache.haves(key)).containsExactly(first);

        Files.writeString(home.resolve("README.md"), "hello again\n");
        GitRepos.git(home, "commit", "-q", "-am", "small change");
        String second = GitRepos.git(home, "rev-parse", "HEAD").strip();
        ObjectShipping.Shipment delta = ship(home, second, cache.haves(key), tmp.resolve("s2.bundle"));
        assertThat(delta.assumed()).isEqualTo(1);
        assertThat(delta.bytes()).as("the large file is not shipped again").isLessThan(2_000);
        cache.receive(key, delta.file(), MAX);
        assertThat(cache.haves(key)).containsExactlyInAnyOrder(first, second);
        assertThat(GitRepos.git(cache.repository(key), "fsck", "--no-dangling")).doesNotContain("missing", "error");

        // an empty cache cannot take a delta: its prerequisite is missing
        RepoKey other = new RepoKey("alpha", "elsewhere");
        assertThatThrownBy(() -> cache.receive(other, delta.file(), MAX)).hasMessageContaining("cannot take the shipment");
        assertThatThrownBy(() -> cache.receive(key, full.file(), 10)).hasMessageContaining("above the limit");

        // the executing host works on the cached repository; only its new commit comes back
        String taskId = "t-remote-1";
        Path work = tmp.resolve("work");
        GitRepos.git(tmp, "clone", "-q", cache.repository(key).toString(), work.toString());
        GitRepos.git(work, "checkout", "-q", "-b", "microvm/" + taskId, second);
        GitRepos.git(work, "config", "user.name", "Agent");
        GitRepos.git(work, "config", "user.email", "agent@example.com");
        Files.writeString(work.resolve("result.txt"), "done\n");
        GitRepos.git(work, "add", "result.txt");
        GitRepos.git(work, "commit", "-q", "-m", "task work");
        String tip = GitRepos.git(work, "rev-parse", "HEAD").strip();
        Path back = tmp.resolve("back.bundle");
        try (Repository executor = new FileRepositoryBuilder().setGitDir(work.resolve(".git").toFile()).setMustExist(true).build()) {
            ObjectShipping.Shipment result = ObjectShipping.write(executor, Map.of("refs/heads/microvm/" + taskId, ObjectId.fromString(tip)),
                    List.of(second), back);
            assertThat(result.bytes()).isLessThan(2_000);
        }
        ImportResult imported = new BundleImporter().importBundle(home, back, taskId, second, MAX);
        assertThat(imported.commitCount()).isEqualTo(1);
        assertThat(GitRepos.git(home, "rev-parse", "refs/tasks/" + taskId).strip()).isEqualTo(tip);
        assertThat(GitRepos.git(home, "rev-parse", "HEAD").strip()).as("the user's branch is untouched").isEqualTo(second);
        assertThat(GitRepos.git(home, "fsck", "--no-dangling")).doesNotContain("missing", "error");
    }

    private static ObjectShipping.Shipment ship(Path home, String commit, List<String> haves, Path out) throws Exception {
        try (Repository repo = new FileRepositoryBuilder().setGitDir(home.resolve(".git").toFile()).setMustExist(true).build()) {
            return ObjectShipping.write(repo, Map.of(ObjectCache.haveRef(commit), ObjectId.fromString(commit)), haves, out);
        }
    }
}
