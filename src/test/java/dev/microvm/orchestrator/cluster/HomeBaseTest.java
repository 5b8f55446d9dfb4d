package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.git.PrepareRequest;
import dev.microvm.orchestrator.git.PreparedWorkspace;
import dev.microvm.orchestrator.git.WorkspacePreparer;
import dev.microvm.orchestrator.testing.GitRepos;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Real repositories, no cluster: the home host pins a shipped task to an explicit commit, the
 * executing host's cache takes the shipment, is registered as an ordinary repository there, and a
 * task workspace prepares from it exactly as from a local repository.
 */
class HomeBaseTest {

    private static final long MAX = 64L << 20;

    @TempDir Path tmp;

    @Test
    void aShippedBaseIsAnExplicitCommitAndTheCacheServesAsAnOrdinaryRepositoryOnTheExecutingHost() throws Exception {
        Path home = GitRepos.create(tmp.resolve("home"));
        String initial = GitRepos.git(home, "rev-parse", "HEAD");
        GitRepos.git(home, "checkout", "-q", "-b", "feature");
        Files.writeString(home.resolve("f.txt"), "feature\n");
        GitRepos.git(home, "add", "f.txt");
        GitRepos.git(home, "commit", "-q", "-m", "feature");
        String feature = GitRepos.git(home, "rev-parse", "HEAD");

        assertThat(HomeBase.resolve(home, null)).isEqualTo(new HomeBase.Base(feature, "feature"));
        assertThat(HomeBase.resolve(home, "main")).isEqualTo(new HomeBase.Base(initial, "main"));
        assertThat(HomeBase.resolve(home, initial.substring(0, 10))).isEqualTo(new HomeBase.Base(initial, null));
        assertThatThrownBy(() -> HomeBase.resolve(home, "nope")).hasMessageContaining("no branch or commit named 'nope'");

        ObjectCache cache = new ObjectCache(RemoteExecutionVerticle.cacheRoot(tmp.resolve("remote-state")));
        RepoKey key = new RepoKey("alpha", "project");
        Path bundle = tmp.resolve("first.bundle");
        Files.write(bundle, HomeBase.shipment(home, initial, cache.haves(key), MAX));
        cache.receive(key, bundle, MAX);
        // the second shipment leaves out what the cache has: smaller than shipping everything
        byte[] delta = HomeBase.shipment(home, feature, cache.haves(key), MAX);
        byte[] everything = HomeBase.shipment(home, feature, List.of(), MAX);
        assertThat(delta.length).isLessThan(everything.length);
        Files.write(bundle, delta);
        cache.receive(key, bundle, MAX);
        assertThat(cache.haves(key)).containsExactlyInAnyOrder(initial, feature);
        assertThatThrownBy(() -> HomeBase.shipment(home, feature, List.of(), 10)).hasMessageContaining("above max_bundle_bytes");

        RepoRegistry registry = new RepoRegistry(new StatePaths(tmp.resolve("remote-state")), Clock.systemUTC());
        String alias = registry.allow(cache.workTree(key), RemoteExecutionVerticle.localAlias(key));
        assertThat(alias).isEqualTo("cluster.alpha.project");
        Path registered = registry.resolve(alias).path();
        PreparedWorkspace prepared = new WorkspacePreparer().prepare(new PrepareRequest(registered, tmp.resolve("ws"), feature,
                false, List.of(), registered.resolve(".git/objects").toString(), "t1"));
        assertThat(prepared.baseCommit()).isEqualTo(feature);
        assertThat(Files.readString(tmp.resolve("ws/f.txt"))).isEqualTo("feature\n");
    }
}
