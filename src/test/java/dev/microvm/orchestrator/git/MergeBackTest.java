package dev.microvm.orchestrator.git;

import static dev.microvm.orchestrator.git.GitFixture.commitAll;
import static dev.microvm.orchestrator.git.GitFixture.git;
import static dev.microvm.orchestrator.git.GitFixture.read;
import static dev.microvm.orchestrator.git.GitFixture.write;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MergeBackTest {
    @TempDir
    Path tmp;

    private Path repo() {
        return GitFixture.newRepo(tmp.resolve("repo"));
    }

    @Test
    void unchangedBranchIsFastForwardedAndItsCheckedOutTreeFollows() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "ff", false).agentCommits("c.txt", "agent\n").agentCommits("a.txt", "agent a\n");
        ImportResult imported = task.importBundle();
        assertThat(imported.commitCount()).isEqualTo(2);
        assertThat(git(repo, "rev-parse", "refs/tasks/ff")).isEqualTo(imported.tip());

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isTrue();
        assertThat(result.method()).isEqualTo("fast-forward");
        assertThat(result.commits()).isEqualTo(2);
        assertThat(result.changedFiles()).containsExactlyInAnyOrder("a.txt", "c.txt");
        assertThat(GitFixture.head(repo)).isEqualTo(imported.tip());
        assertThat(read(repo, "c.txt")).isEqualTo("agent\n");
        assertThat(GitFixture.status(repo)).isEmpty();
        assertThat(git(repo, "rev-parse", "refs/tasks/ff")).isEqualTo(imported.tip());
    }

    @Test
    void userCommitsDuringTheTaskLeadToARebaseOntoTheNewTip() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "rb", false).agentCommits("c.txt", "agent\n");
        write(repo, "b.txt", "user changed b\n");
        String userTip = commitAll(repo, "user work");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isTrue();
        assertThat(result.method()).isEqualTo("rebase");
        assertThat(result.changedFiles()).containsExactly("c.txt");
        assertThat(git(repo, "rev-parse", "HEAD~1")).isEqualTo(userTip);
        assertThat(git(repo, "log", "-1", "--format=%s")).isEqualTo("agent: c.txt");
        assertThat(read(repo, "c.txt")).isEqualTo("agent\n");
        assertThat(read(repo, "b.txt")).isEqualTo("user changed b\n");
        assertThat(GitFixture.status(repo)).isEmpty();
    }

    @Test
    void conflictingWorkIsReportedWithPathsAndNothingMoves() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "cf", false).agentCommits("a.txt", "agent\n");
        write(repo, "a.txt", "user\n");
        String userTip = commitAll(repo, "user");
        ImportResult imported = task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isFalse();
        assertThat(result.reason()).isEqualTo("conflicts");
        assertThat(result.conflicts()).containsExactly("a.txt");
        assertThat(result.taskRef()).isEqualTo("refs/tasks/cf");
        assertThat(GitFixture.head(repo)).isEqualTo(userTip);
        assertThat(git(repo, "rev-parse", "refs/tasks/cf")).isEqualTo(imported.tip());
        assertThat(GitFixture.status(repo)).isEmpty();
    }

    @Test
    void locallyModifiedFilesAreNeverOverwritten() throws Exception {
        Path repo = repo();
        String base = GitFixture.head(repo);
        TaskFlow task = new TaskFlow(repo, tmp, "dt", false).agentCommits("a.txt", "agent\n");
        write(repo, "a.txt", "user is editing\n");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isFalse();
        assertThat(result.reason()).isEqualTo("dirty_worktree");
        assertThat(result.dirtyFiles()).containsExactly("a.txt");
        assertThat(GitFixture.head(repo)).isEqualTo(base);
        assertThat(read(repo, "a.txt")).isEqualTo("user is editing\n");
    }

    @Test
    void locallyDeletedFileIsNotRecreatedByTheMerge() throws Exception {
        Path repo = repo();
        String base = GitFixture.head(repo);
        TaskFlow task = new TaskFlow(repo, tmp, "rm", false).agentCommits("a.txt", "agent\n");
        java.nio.file.Files.delete(repo.resolve("a.txt"));
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.reason()).isEqualTo("dirty_worktree");
        assertThat(result.dirtyFiles()).containsExactly("a.txt");
        assertThat(repo.resolve("a.txt")).doesNotExist();
        assertThat(GitFixture.head(repo)).isEqualTo(base);
    }

    @Test
    void untrackedFileInTheWayBlocksTheWorkingTreeUpdate() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "ut", false).agentCommits("new.txt", "agent\n");
        write(repo, "new.txt", "user's own untracked\n");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.reason()).isEqualTo("dirty_worktree");
        assertThat(read(repo, "new.txt")).isEqualTo("user's own untracked\n");
    }

    @Test
    void unrelatedLocalChangesStayWhileTheBranchMoves() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "un", false).agentCommits("c.txt", "agent\n");
        write(repo, "a.txt", "user is editing\n");
        write(repo, "scratch.txt", "untracked\n");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isTrue();
        assertThat(read(repo, "c.txt")).isEqualTo("agent\n");
        assertThat(read(repo, "a.txt")).isEqualTo("user is editing\n");
        assertThat(read(repo, "scratch.txt")).isEqualTo("untracked\n");
        assertThat(GitFixture.status(repo)).contains("M a.txt").contains("?? scratch.txt").doesNotContain("c.txt");
    }

    @Test
    void uncommittedChangesCarriedIntoTheTaskAreNeverMergedBack() throws Exception {
        Path repo = repo();
        String base = GitFixture.head(repo);
        write(repo, "a.txt", "user dirty a\n");
        TaskFlow task = new TaskFlow(repo, tmp, "uc", true).agentCommits("c.txt", "agent\n");
        assertThat(read(task.workspace, "a.txt")).isEqualTo("user dirty a\n");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isTrue();
        assertThat(result.method()).isEqualTo("rebase");
        assertThat(result.commits()).isEqualTo(1);
        assertThat(git(repo, "rev-parse", "HEAD~1")).isEqualTo(base);
        assertThat(git(repo, "show", "HEAD:a.txt")).isEqualTo("a1\na2\na3");
        assertThat(read(repo, "a.txt")).isEqualTo("user dirty a\n");
        assertThat(read(repo, "c.txt")).isEqualTo("agent\n");
    }

    @Test
    void branchStrategyPublishesATaskBranchAndLeavesTheUsersBranchAlone() throws Exception {
        Path repo = repo();
        String base = GitFixture.head(repo);
        write(repo, "b.txt", "dirty b\n");
        TaskFlow task = new TaskFlow(repo, tmp, "br", true).agentCommits("c.txt", "agent\n");
        task.importBundle();

        MergeResult result = task.merge(MergeStrategy.BRANCH);

        assertThat(result.merged()).isTrue();
        assertThat(result.method()).isEqualTo("branch");
        assertThat(result.branchRef()).isEqualTo("refs/heads/microvm/br");
        assertThat(GitFixture.head(repo)).isEqualTo(base);
        assertThat(git(repo, "rev-parse", "microvm/br~1")).isEqualTo(base);
        assertThat(git(repo, "show", "microvm/br:b.txt")).isEqualTo("b1\nb2\nb3");
        assertThat(read(repo, "b.txt")).isEqualTo("dirty b\n");
    }

    @Test
    void noneStrategyAndEmptyTasksChangeNothing() throws Exception {
        Path repo = repo();
        String base = GitFixture.head(repo);
        TaskFlow task = new TaskFlow(repo, tmp, "no", false).agentCommits("c.txt", "agent\n");
        task.importBundle();
        MergeResult none = task.merge(MergeStrategy.NONE);
        assertThat(none.merged()).isFalse();
        assertThat(none.reason()).isEqualTo("not_merged");
        assertThat(none.commits()).isEqualTo(1);
        assertThat(GitFixture.head(repo)).isEqualTo(base);

        TaskFlow empty = new TaskFlow(repo, tmp, "empty", false);
        ImportResult imported = empty.importBundle();
        assertThat(imported.hasCommits()).isFalse();
        MergeResult result = empty.merge(MergeStrategy.AUTO);
        assertThat(result.commits()).isZero();
        assertThat(result.reason()).isEqualTo("no_commits");
        assertThat(GitFixture.head(repo)).isEqualTo(base);
    }

    @Test
    void deletedBaseBranchKeepsTheWorkOnTheTaskRef() throws Exception {
        Path repo = repo();
        git(repo, "checkout", "-q", "-b", "feature");
        TaskFlow task = new TaskFlow(repo, tmp, "del", false).agentCommits("c.txt", "agent\n");
        git(repo, "checkout", "-q", "main");
        git(repo, "branch", "-D", "feature");
        ImportResult imported = task.importBundle();

        MergeResult result = task.merge(MergeStrategy.AUTO);

        assertThat(result.merged()).isFalse();
        assertThat(result.reason()).isEqualTo("base_branch_missing");
        assertThat(git(repo, "rev-parse", "refs/tasks/del")).isEqualTo(imported.tip());
    }

    @Test
    void resultJsonIsASupersetOfTheOriginalMergeResult() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "js", false).agentCommits("c.txt", "agent\n");
        task.importBundle();
        var json = task.merge(MergeStrategy.AUTO).toJson();
        assertThat(json.fieldNames()).contains("merged", "method", "commits", "conflicts", "reason", "task_ref",
                "changed_files", "dirty_files", "branch_ref", "new_tip");
        assertThat(json.getBoolean("merged")).isTrue();
        assertThat(json.getString("task_ref")).isEqualTo("refs/tasks/js");
    }

    @Test
    void concurrentMergesIntoOneRepositoryAreSerializedAndBothLand() throws Exception {
        Path repo = repo();
        List<TaskFlow> tasks = List.of(
                new TaskFlow(repo, tmp, "p1", false).agentCommits("p1.txt", "1\n"),
                new TaskFlow(repo, tmp, "p2", false).agentCommits("p2.txt", "2\n"),
                new TaskFlow(repo, tmp, "p3", false).agentCommits("p3.txt", "3\n"));
        for (TaskFlow t : tasks) {
            t.importBundle();
        }
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<MergeResult>> results = tasks.stream().map(t -> pool.submit(() -> t.merge(MergeStrategy.AUTO))).toList();
            for (Future<MergeResult> r : results) {
                assertThat(r.get().merged()).isTrue();
            }
        } finally {
            pool.shutdown();
        }
        assertThat(read(repo, "p1.txt") + read(repo, "p2.txt") + read(repo, "p3.txt")).isEqualTo("1\n2\n3\n");
        assertThat(git(repo, "rev-list", "--count", "HEAD")).isEqualTo("4");
        assertThat(GitFixture.status(repo)).isEmpty();
    }

    @Test
    void diffIsPaginatedByFileAndCleanupDeletesTaskRefsOnlyWhenAsked() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "df", false)
                .agentCommits("x1.txt", "1\n").agentCommits("x2.txt", "2\n").agentCommits("x3.txt", "3\n");
        task.importBundle();
        TaskDiff diff = new TaskDiff();
        DiffPage first = diff.diff(repo, "df", task.prepared.agentBaseCommit(), 0, 2);
        assertThat(first.files()).extracting(DiffPage.FileChange::path).containsExactly("x1.txt", "x2.txt", "x3.txt");
        assertThat(first.patch()).contains("+++ b/x1.txt").contains("+++ b/x2.txt").doesNotContain("x3.txt\n+");
        assertThat(first.nextOffset()).isEqualTo(2);
        DiffPage second = diff.diff(repo, "df", task.prepared.agentBaseCommit(), first.nextOffset(), 2);
        assertThat(second.patch()).contains("+++ b/x3.txt").doesNotContain("x1.txt");
        assertThat(second.nextOffset()).isEqualTo(-1);

        assertThat(TaskRefs.cleanup(repo, "df", false)).isEmpty();
        assertThat(git(repo, "for-each-ref", "refs/tasks")).contains("refs/tasks/df");
        assertThat(TaskRefs.cleanup(repo, "df", true)).containsExactly("refs/tasks/df");
        assertThat(git(repo, "for-each-ref", "refs/tasks")).isEmpty();
    }

    @Test
    void laterMergeWithAnotherStrategyWorksAfterANoneMerge() throws Exception {
        Path repo = repo();
        TaskFlow task = new TaskFlow(repo, tmp, "lt", false).agentCommits("c.txt", "agent\n");
        task.importBundle();
        assertThat(task.merge(MergeStrategy.NONE).merged()).isFalse();
        MergeResult later = task.merge(MergeStrategy.AUTO);
        assertThat(later.merged()).isTrue();
        assertThat(later.method()).isEqualTo("fast-forward");
        MergeResult again = task.merge(MergeStrategy.AUTO);
        assertThat(again.reason()).isEqualTo("already_merged");
    }
}
