package dev.microvm.orchestrator.git;

import static dev.microvm.orchestrator.git.GitFixture.commitAll;
import static dev.microvm.orchestrator.git.GitFixture.git;
import static dev.microvm.orchestrator.git.GitFixture.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest is hostile: whatever it leaves behind must have no effect on the host, fail with a
 * clear reason, and leave the user's repository unchanged and consistent.
 */
@Timeout(60)
class HostileGuestTest {
    private static final long CAP = 8L << 20;

    @TempDir
    Path tmp;

    private Path repo;
    private Path markers;
    private String refsBefore;
    private String configBefore;

    @BeforeEach
    void setUp() throws Exception {
        repo = GitFixture.newRepo(tmp.resolve("repo"));
        markers = Files.createDirectories(tmp.resolve("markers"));
        refsBefore = git(repo, "for-each-ref");
        configBefore = Files.readString(repo.resolve(".git/config"));
    }

    @AfterEach
    void userRepositoryIsConsistentAndNothingRanOnTheHost() throws Exception {
        git(repo, "fsck", "--strict", "--no-progress", "--no-dangling");
        assertThat(Files.readString(repo.resolve(".git/config"))).isEqualTo(configBefore);
        try (Stream<Path> m = Files.list(markers)) {
            assertThat(m).isEmpty();
        }
        try (Stream<Path> pack = Files.list(repo.resolve(".git/objects/pack"))) {
            assertThat(pack.map(p -> p.getFileName().toString()))
                    .noneMatch(n -> n.endsWith(".keep") || n.startsWith("incoming_") || n.startsWith("tmp"));
        }
    }

    private TaskFlow task(String id) throws GitTaskException {
        return new TaskFlow(repo, tmp, id, false);
    }

    private GitTaskException importFails(TaskFlow task, Path bundle) {
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> new BundleImporter()
                .importBundle(repo, bundle, task.taskId, task.prepared.agentBaseCommit(), CAP));
        assertThat(thrown).isInstanceOf(GitTaskException.class);
        assertThat(git(repo, "for-each-ref")).isEqualTo(refsBefore);
        return (GitTaskException) thrown;
    }

    @Test
    void bundleThatIsASymlinkIsNotFollowed() throws Exception {
        TaskFlow t = task("sym").agentCommits("c.txt", "x\n");
        Path real = GitFixture.bundle(t.workspace, t.prepared.agentBaseCommit(), tmp.resolve("real.bundle"));
        Path link = Files.createSymbolicLink(tmp.resolve("link.bundle"), real);
        assertThat(importFails(t, link).reason()).isEqualTo("bundle_not_regular_file");
        Files.writeString(tmp.resolve("id_rsa"), "PRIVATE KEY");
        Path toSecret = Files.createSymbolicLink(tmp.resolve("secret.bundle"), tmp.resolve("id_rsa"));
        assertThat(importFails(t, toSecret).reason()).isEqualTo("bundle_not_regular_file");
    }

    @Test
    void bundleThatIsAFifoOrDirectoryIsRefusedWithoutBlocking() throws Exception {
        TaskFlow t = task("fifo");
        Path fifo = tmp.resolve("fifo.bundle");
        new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
        assertThat(importFails(t, fifo).reason()).isEqualTo("bundle_not_regular_file");
        Path dir = Files.createDirectories(tmp.resolve("dir.bundle"));
        assertThat(importFails(t, dir).reason()).isEqualTo("bundle_not_regular_file");
    }

    @Test
    void oversizedSparseBundleIsRefusedBeforeReading() throws Exception {
        TaskFlow t = task("big");
        Path big = tmp.resolve("big.bundle");
        try (RandomAccessFile file = new RandomAccessFile(big.toFile(), "rw")) {
            file.setLength(100L << 30);
        }
        assertThat(importFails(t, big).reason()).isEqualTo("bundle_too_large");
    }

    @Test
    void corruptOrTruncatedBundlesAreRejected() throws Exception {
        TaskFlow t = task("bad").agentCommits("c.txt", "some content\n".repeat(200));
        Path good = GitFixture.bundle(t.workspace, t.prepared.agentBaseCommit(), tmp.resolve("good.bundle"));
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = Files.write(tmp.resolve("trunc.bundle"), java.util.Arrays.copyOf(bytes, bytes.length - 30));
        assertThat(importFails(t, truncated).reason()).isEqualTo("bundle_corrupt");
        byte[] flipped = bytes.clone();
        flipped[flipped.length - 40] ^= 0x55;
        assertThat(importFails(t, Files.write(tmp.resolve("flip.bundle"), flipped)).reason()).isEqualTo("bundle_corrupt");
        Path garbage = Files.write(tmp.resolve("garbage.bundle"), "not a bundle at all\n".getBytes());
        assertThat(importFails(t, garbage).reason()).isEqualTo("bundle_corrupt");
    }

    @Test
    void treeEntryNamedDotGitIsRejectedByObjectChecking() throws Exception {
        TaskFlow t = task("dotgit");
        Path ws = t.workspace;
        String hookBlob = git(ws, "hash-object", "-w", "--stdin"); // empty blob
        String hooks = mktree(ws, "100755 blob " + hookBlob + "\tpost-checkout\n");
        String dotGit = mktree(ws, "040000 tree " + hooks + "\thooks\n");
        String baseTree = git(ws, "rev-parse", "HEAD^{tree}");
        String root = mktree(ws, git(ws, "ls-tree", baseTree) + "\n040000 tree " + dotGit + "\t.git\n");
        String commit = git(ws, "commit-tree", root, "-p", "HEAD", "-m", "evil");
        git(ws, "update-ref", "refs/heads/microvm/dotgit", commit);
        Path bundle = GitFixture.bundle(ws, t.prepared.agentBaseCommit(), tmp.resolve("dotgit.bundle"));
        GitTaskException e = importFails(t, bundle);
        assertThat(e.reason()).isEqualTo("bundle_corrupt");
        assertThat(e.getMessage()).contains(".git");
    }

    @Test
    void extraRefsInTheBundleNeverTouchTheUsersBranches() throws Exception {
        TaskFlow t = task("refs").agentCommits("c.txt", "x\n");
        String mainBefore = git(repo, "rev-parse", "main");
        git(t.workspace, "branch", "-f", "main", "HEAD");
        git(t.workspace, "tag", "v-evil", "HEAD");
        Path bundle = tmp.resolve("refs.bundle");
        git(t.workspace, "bundle", "create", "-q", bundle.toString(), t.prepared.agentBaseCommit() + "..HEAD", "main",
                "v-evil", "microvm/refs");
        ImportResult imported = new BundleImporter().importBundle(repo, bundle, "refs", t.prepared.agentBaseCommit(), CAP);
        assertThat(imported.commitCount()).isEqualTo(1);
        assertThat(git(repo, "rev-parse", "main")).isEqualTo(mainBefore);
        assertThat(git(repo, "for-each-ref", "--format=%(refname)")).isEqualTo("refs/heads/main\nrefs/tasks/refs");
        refsBefore = git(repo, "for-each-ref");
    }

    @Test
    void bundleWithOnlyForeignRefsOrUnrelatedHistoryIsRefused() throws Exception {
        TaskFlow t = task("foreign").agentCommits("c.txt", "x\n");
        Path twoRefs = tmp.resolve("two.bundle");
        git(t.workspace, "branch", "a");
        git(t.workspace, "branch", "b");
        git(t.workspace, "bundle", "create", "-q", twoRefs.toString(), t.prepared.agentBaseCommit() + "..a", "b");
        assertThat(importFails(t, twoRefs).reason()).isEqualTo("bundle_unexpected_refs");

        Path other = Files.createDirectories(tmp.resolve("unrelated"));
        git(other, "init", "-q");
        write(other, "z.txt", "unrelated history\n");
        commitAll(other, "unrelated root");
        Path unrelated = tmp.resolve("unrelated.bundle");
        git(other, "bundle", "create", "-q", unrelated.toString(), "HEAD");
        assertThat(importFails(t, unrelated).reason()).isEqualTo("bundle_unexpected_objects");
    }

    @Test
    void bundleNeedingCommitsTheUserDoesNotHaveIsRefused() throws Exception {
        TaskFlow t = task("prereq").agentCommits("c.txt", "x\n").agentCommits("d.txt", "y\n");
        Path bundle = tmp.resolve("prereq.bundle");
        git(t.workspace, "bundle", "create", "-q", bundle.toString(), "HEAD~1..HEAD");
        assertThat(importFails(t, bundle).reason()).isEqualTo("bundle_missing_prerequisite");
    }

    @Test
    void hostileGuestRepositoryConfigurationHasNoHostSideEffect() throws Exception {
        TaskFlow t = task("cfg");
        Path ws = t.workspace;
        Path hooks = Files.createDirectories(ws.resolve(".git/hooks"));
        for (String hook : new String[] {"post-checkout", "post-commit", "post-merge", "pre-commit", "reference-transaction"}) {
            Path script = hooks.resolve(hook);
            Files.writeString(script, "#!/bin/sh\ntouch " + markers.resolve(hook) + "\n");
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        git(ws, "config", "core.fsmonitor", "touch " + markers.resolve("fsmonitor"));
        git(ws, "config", "filter.evil.smudge", "touch " + markers.resolve("smudge") + "; cat");
        git(ws, "config", "filter.evil.clean", "cat");
        write(ws, ".gitattributes", "*.txt filter=evil\n");
        write(ws, "c.txt", "agent work\n");
        git(ws, "-c", "core.hooksPath=/dev/null", "add", "-A");
        git(ws, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-verify", "-m", "hostile");
        Path bundle = GitFixture.bundle(ws, t.prepared.agentBaseCommit(), tmp.resolve("cfg.bundle"));
        // The guest then plants links to the user's repository in its own workspace.
        Files.writeString(ws.resolve(".git/objects/info/alternates"), repo.resolve(".git/objects") + "\n");
        Files.move(ws.resolve(".git"), ws.resolve("moved-git"));
        Files.writeString(ws.resolve(".git"), "gitdir: " + repo.resolve(".git") + "\n");
        try (Stream<Path> m = Files.list(markers)) {
            m.forEach(p -> {
                try {
                    Files.delete(p); // markers from the guest's own git runs do not count
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        ImportResult imported = new BundleImporter().importBundle(repo, bundle, "cfg", t.prepared.agentBaseCommit(), CAP);
        assertThat(imported.hasCommits()).isTrue();
        MergeResult merged = t.merge(MergeStrategy.AUTO);
        assertThat(merged.merged()).isTrue();
        assertThat(GitFixture.read(repo, "c.txt")).isEqualTo("agent work\n");
        assertThat(repo.resolve(".git/hooks/post-checkout")).doesNotExist();
        refsBefore = git(repo, "for-each-ref");
    }

    @Test
    void maliciousGitmodulesNeverReachesTheUsersObjectStore() throws Exception {
        TaskFlow t = task("mods");
        write(t.workspace, ".gitmodules", "[submodule \"x\"]\n\tpath = x\n\turl = --upload-pack=touch "
                + markers.resolve("sub") + "\n");
        commitAll(t.workspace, "submodule");
        Path bundle = GitFixture.bundle(t.workspace, t.prepared.agentBaseCommit(), tmp.resolve("mods.bundle"));
        GitTaskException e = importFails(t, bundle);
        assertThat(e.reason()).isEqualTo("bundle_unexpected_objects");
        assertThat(e.getMessage()).contains(".gitmodules");
        String blob = git(t.workspace, "rev-parse", "HEAD:.gitmodules");
        assertThat(git(repo, "cat-file", "--batch-check", "--batch-all-objects")).doesNotContain(blob);
    }

    @Test
    void missingBundleMeansNoCommitsAndTheHostNeverReadsTheWorkspace() throws Exception {
        TaskFlow t = task("gone").agentCommits("c.txt", "x\n");
        Files.move(t.workspace.resolve(".git"), t.workspace.resolve("old-git"));
        Files.writeString(t.workspace.resolve(".git"), "gitdir: " + repo.resolve(".git") + "\n");
        ImportResult result = new BundleImporter().importBundle(repo, tmp.resolve("none.bundle"), "gone",
                t.prepared.agentBaseCommit(), CAP);
        assertThat(result.hasCommits()).isFalse();
        assertThat(commitAll(repo, "user still fine")).isNotBlank();
        refsBefore = git(repo, "for-each-ref");
    }

    private static String mktree(Path dir, String listing) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("git", "mktree").directory(dir.toFile());
        pb.environment().put("GIT_CONFIG_GLOBAL", "/dev/null");
        Process p = pb.start();
        p.getOutputStream().write((listing.strip() + "\n").getBytes());
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor()).isZero();
        return out;
    }
}
