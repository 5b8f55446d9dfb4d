package dev.microvm.orchestrator.git;

import static dev.microvm.orchestrator.git.GitFixture.commitAll;
import static dev.microvm.orchestrator.git.GitFixture.git;
import static dev.microvm.orchestrator.git.GitFixture.read;
import static dev.microvm.orchestrator.git.GitFixture.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkspacePreparerTest {
    @TempDir
    Path tmp;

    private final WorkspacePreparer preparer = new WorkspacePreparer();

    private PrepareRequest request(Path repo, String base, boolean uncommitted, List<String> patterns) {
        return new PrepareRequest(repo, tmp.resolve("ws"), base, uncommitted, patterns,
                repo.resolve(".git/objects").toString(), "t1");
    }

    @Test
    void workspaceStartsAtTheCurrentBranchTipWithFullHistoryAndNoCopiedObjects() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        write(repo, "a.txt", "second\n");
        String tip = commitAll(repo, "second");

        PreparedWorkspace ws = preparer.prepare(request(repo, null, false, List.of()));

        Path dir = tmp.resolve("ws");
        assertThat(ws.baseCommit()).isEqualTo(tip);
        assertThat(ws.agentBaseCommit()).isEqualTo(tip);
        assertThat(ws.baseBranch()).isEqualTo("main");
        assertThat(ws.method()).isEqualTo("alternates");
        assertThat(ws.sharedObjectsDir()).isEqualTo(repo.resolve(".git/objects").toRealPath());
        assertThat(git(dir, "symbolic-ref", "HEAD")).isEqualTo("refs/heads/microvm/t1");
        assertThat(git(dir, "rev-parse", "HEAD")).isEqualTo(tip);
        assertThat(git(dir, "rev-list", "--count", "HEAD")).isEqualTo("2");
        assertThat(read(dir, "a.txt")).isEqualTo("second\n");
        assertThat(GitFixture.status(dir)).isEmpty();
        assertThat(git(dir, "config", "user.name")).contains("t1");
        try (Stream<Path> objects = Files.walk(dir.resolve(".git/objects"))) {
            assertThat(objects.filter(Files::isRegularFile).map(p -> p.getFileName().toString()))
                    .containsExactly("alternates");
        }
    }

    @Test
    void agentCommitsLandInTheWorkspaceNotInTheUsersObjectStore() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        long before = countFiles(repo.resolve(".git/objects"));
        preparer.prepare(request(repo, null, false, List.of()));
        Path dir = tmp.resolve("ws");
        write(dir, "new.txt", "agent\n");
        commitAll(dir, "agent work");
        assertThat(countFiles(repo.resolve(".git/objects"))).isEqualTo(before);
        assertThat(countFiles(dir.resolve(".git/objects"))).isGreaterThan(1);
    }

    @Test
    void uncommittedChangesTravelAsASeparateBaseCommitAndTheUsersTreeIsLeftAsItWas() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        String base = GitFixture.head(repo);
        write(repo, "a.txt", "dirty a\n");
        write(repo, "staged.txt", "staged\n");
        git(repo, "add", "staged.txt");
        Files.delete(repo.resolve("b.txt"));
        write(repo, "untracked.txt", "not carried\n");
        String statusBefore = GitFixture.status(repo);

        PreparedWorkspace ws = preparer.prepare(request(repo, null, true, List.of()));

        Path dir = tmp.resolve("ws");
        assertThat(ws.baseCommit()).isEqualTo(base);
        assertThat(ws.agentBaseCommit()).isNotEqualTo(base);
        assertThat(ws.hasUncommittedBase()).isTrue();
        assertThat(git(dir, "rev-parse", "HEAD")).isEqualTo(ws.agentBaseCommit());
        assertThat(git(dir, "rev-parse", "HEAD~1")).isEqualTo(base);
        assertThat(read(dir, "a.txt")).isEqualTo("dirty a\n");
        assertThat(read(dir, "staged.txt")).isEqualTo("staged\n");
        assertThat(dir.resolve("b.txt")).doesNotExist();
        assertThat(dir.resolve("untracked.txt")).doesNotExist();
        assertThat(git(repo, "rev-parse", "refs/microvm-base/t1")).isEqualTo(ws.agentBaseCommit());
        assertThat(GitFixture.status(repo)).isEqualTo(statusBefore);
        assertThat(GitFixture.head(repo)).isEqualTo(base);
        assertThat(read(repo, "a.txt")).isEqualTo("dirty a\n");
    }

    @Test
    void cleanTreeWithUncommittedRequestedNeedsNoExtraCommit() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        PreparedWorkspace ws = preparer.prepare(request(repo, null, true, List.of()));
        assertThat(ws.agentBaseCommit()).isEqualTo(ws.baseCommit());
    }

    @Test
    void selectedUntrackedFilesAreCopiedButNeverSymlinksOrTrackedOnes() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        write(repo, ".env", "SECRET=1\n");
        write(repo, "config/app.local", "local\n");
        write(repo, "config/other.txt", "other\n");
        Path outside = tmp.resolve("outside-secret");
        Files.writeString(outside, "ssh key");
        Files.createSymbolicLink(repo.resolve("sub.env"), outside);

        PreparedWorkspace ws = preparer.prepare(request(repo, null, false, List.of("*.env", ".env", "config/*.local")));

        Path dir = tmp.resolve("ws");
        assertThat(ws.copiedUntracked()).containsExactly(".env", "config/app.local");
        assertThat(read(dir, ".env")).isEqualTo("SECRET=1\n");
        assertThat(dir.resolve("sub.env")).doesNotExist();
        assertThat(dir.resolve("config/other.txt")).doesNotExist();
        assertThat(GitFixture.status(dir)).isEmpty();
    }

    @Test
    void baseCanBeAnotherBranchOrACommit() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        String first = GitFixture.head(repo);
        git(repo, "branch", "feature");
        write(repo, "a.txt", "main moved\n");
        commitAll(repo, "main moved");

        PreparedWorkspace onBranch = preparer.prepare(request(repo, "feature", false, List.of()));
        assertThat(onBranch.baseBranch()).isEqualTo("feature");
        assertThat(onBranch.baseCommit()).isEqualTo(first);

        PreparedWorkspace onCommit = preparer.prepare(new PrepareRequest(repo, tmp.resolve("ws2"), first.substring(0, 10),
                false, List.of(), repo.resolve(".git/objects").toString(), "t2"));
        assertThat(onCommit.baseBranch()).isNull();
        assertThat(onCommit.baseCommit()).isEqualTo(first);
        assertThat(read(tmp.resolve("ws2"), "a.txt")).isEqualTo("a1\na2\na3\n");
    }

    @Test
    void guestSeesTheObjectsAtTheSharedPathNotTheHostPath() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        preparer.prepare(new PrepareRequest(repo, tmp.resolve("ws"), null, false, List.of(), "/run/mvo/objects", "t1"));
        assertThat(read(tmp.resolve("ws"), ".git/objects/info/alternates")).isEqualTo("/run/mvo/objects\n");
        assertThat(read(tmp.resolve("ws"), "a.txt")).isEqualTo("a1\na2\na3\n");
    }

    @Test
    void withoutAReadOnlyShareTheObjectsAreClonedIntoASelfContainedRepository() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        PreparedWorkspace ws = preparer.prepare(new PrepareRequest(repo, tmp.resolve("ws"), null, false, List.of(), null, "t1"));
        assertThat(ws.method()).isIn("clone-cow", "copy");
        assertThat(ws.sharedObjectsDir()).isNull();
        assertThat(tmp.resolve("ws/.git/objects/info/alternates")).doesNotExist();
        git(tmp.resolve("ws"), "fsck", "--no-progress");
        assertThat(git(tmp.resolve("ws"), "rev-list", "--count", "HEAD")).isEqualTo("1");
    }

    @Test
    void badInputIsRefusedWithAStableReason() throws Exception {
        Path repo = GitFixture.newRepo(tmp.resolve("repo"));
        Files.createDirectories(tmp.resolve("ws"));
        Files.writeString(tmp.resolve("ws/x"), "x");
        assertThatThrownBy(() -> preparer.prepare(request(repo, null, false, List.of())))
                .hasFieldOrPropertyWithValue("reason", "workspace_not_empty");
        assertThatThrownBy(() -> preparer.prepare(new PrepareRequest(repo, tmp.resolve("w3"), null, false, List.of(),
                "/x", "../evil"))).hasFieldOrPropertyWithValue("reason", "invalid_task_id");
        assertThatThrownBy(() -> preparer.prepare(new PrepareRequest(repo, tmp.resolve("w4"), "nope", false, List.of(),
                "/x", "t4"))).hasFieldOrPropertyWithValue("reason", "base_not_found");
        git(repo, "branch", "other");
        write(repo, "a.txt", "moved\n");
        commitAll(repo, "moved");
        assertThatThrownBy(() -> preparer.prepare(new PrepareRequest(repo, tmp.resolve("w5"), "other", true, List.of(),
                "/x", "t5"))).hasFieldOrPropertyWithValue("reason", "uncommitted_needs_head_base");
    }

    private static long countFiles(Path dir) throws Exception {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }
}
