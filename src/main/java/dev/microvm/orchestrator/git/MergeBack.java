package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.HostLock;

import java.io.IOException;
import java.util.List;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;

/**
 * Brings a task's imported commits ({@code refs/tasks/<id>}) into the user's repository with the
 * chosen strategy. Never loses anything: the task ref is never modified here, branches only
 * move forward by compare-and-swap, the user's working tree is only updated when no local
 * change would be overwritten, and merges into one repository are serialized. Only commits after
 * the agent's base are merged, so a base commit holding the user's uncommitted changes never is.
 */
public final class MergeBack {
    private static final int CAS_ATTEMPTS = 3;

    public MergeResult merge(MergeRequest request) throws GitTaskException {
        String taskId = TaskRefNames.requireValidTaskId(request.taskId());
        String taskRefName = TaskRefNames.taskRef(taskId);
        try (Repository repo = UserRepos.open(request.userRepo()); HostLock.Held lock = UserRepos.lock(repo)) {
            Ref taskRef = repo.exactRef(taskRefName);
            ObjectId agentBase = ObjectId.fromString(request.agentBaseCommit());
            if (taskRef == null || taskRef.getObjectId().equals(agentBase)) {
                return new MergeResult(true, "none", 0, List.of(), List.of(), List.of(), "no_commits", null, null, null);
            }
            ObjectId tip = taskRef.getObjectId();
            List<RevCommit> commits = CommitReplay.commitsBetween(repo, agentBase, tip);
            return switch (request.strategy()) {
                case NONE -> new MergeResult(false, "none", commits.size(), ChangedPaths.between(repo, agentBase, tip),
                        List.of(), List.of(), "not_merged", taskRefName, null, null);
                case BRANCH -> publishBranch(repo, request, taskId, commits, tip);
                case AUTO -> request.baseBranch() == null
                        ? MergeResult.notMerged("none", commits.size(), "base_not_a_branch", taskRefName, List.of(), List.of())
                        : mergeIntoBranch(repo, request, taskId, commits, tip);
            };
        } catch (IOException | IllegalArgumentException e) {
            throw new GitTaskException("io_error", "merge of task " + taskId + " failed: " + e.getMessage()
                    + "; its commits remain on " + taskRefName, e);
        }
    }

    private static MergeResult mergeIntoBranch(Repository repo, MergeRequest request, String taskId,
                                               List<RevCommit> commits, ObjectId tip) throws IOException {
        String taskRef = TaskRefNames.taskRef(taskId);
        String branchRef = Constants.R_HEADS + request.baseBranch();
        ObjectId agentBase = ObjectId.fromString(request.agentBaseCommit());
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            Ref branch = repo.exactRef(branchRef);
            if (branch == null || branch.getObjectId() == null) {
                return MergeResult.notMerged("none", commits.size(), "base_branch_missing", taskRef, List.of(), List.of());
            }
            ObjectId current = branch.getObjectId();
            if (alreadyContains(repo, current, tip)) {
                return new MergeResult(true, "none", commits.size(), List.of(), List.of(), List.of(), "already_merged",
                        taskRef, branchRef, current.name());
            }
            String method;
            ObjectId newTip;
            if (current.equals(agentBase)) {
                method = "fast-forward";
                newTip = tip;
            } else {
                CommitReplay.Outcome replay = CommitReplay.replay(repo, commits, current);
                if (replay instanceof CommitReplay.Conflicted conflicted) {
                    return MergeResult.notMerged("rebase", commits.size(), "conflicts", taskRef, conflicted.paths(), List.of());
                }
                method = "rebase";
                newTip = ((CommitReplay.Replayed) replay).tip();
            }
            List<String> changed = ChangedPaths.between(repo, current, newTip);
            CheckedOutBranch.Outcome moved = CheckedOutBranch.move(repo, branchRef, current, newTip,
                    "microvm: merge task " + taskId + " (" + method + ")");
            switch (moved.status()) {
                case MOVED:
                    return new MergeResult(true, method, commits.size(), changed, List.of(), List.of(), null, taskRef,
                            branchRef, newTip.name());
                case DIRTY:
                    return MergeResult.notMerged(method, commits.size(), "dirty_worktree", taskRef, List.of(), moved.dirtyFiles());
                case BUSY:
                    return MergeResult.notMerged(method, commits.size(), "repository_busy", taskRef, List.of(), List.of());
                case CHECKED_OUT_ELSEWHERE:
                    return MergeResult.notMerged(method, commits.size(), "checked_out_in_other_worktree", taskRef,
                            List.of(), List.of());
                case CONCURRENT_UPDATE:
                default:
                    // the branch moved under us: read it again and retry
            }
        }
        return MergeResult.notMerged("none", commits.size(), "concurrent_update", taskRef, List.of(), List.of());
    }

    private static MergeResult publishBranch(Repository repo, MergeRequest request, String taskId,
                                             List<RevCommit> commits, ObjectId tip) throws IOException {
        String taskRef = TaskRefNames.taskRef(taskId);
        ObjectId base = ObjectId.fromString(request.baseCommit());
        ObjectId agentBase = ObjectId.fromString(request.agentBaseCommit());
        ObjectId target = tip;
        if (!base.equals(agentBase)) {
            CommitReplay.Outcome replay = CommitReplay.replay(repo, commits, base);
            if (replay instanceof CommitReplay.Conflicted conflicted) {
                return MergeResult.notMerged("branch", commits.size(), "conflicts", taskRef, conflicted.paths(), List.of());
            }
            target = ((CommitReplay.Replayed) replay).tip();
        }
        String branchRef = TaskRefNames.taskBranchRef(taskId);
        Ref existing = repo.exactRef(branchRef);
        if (existing != null && !existing.getObjectId().equals(target)) {
            if (alreadyContains(repo, existing.getObjectId(), tip)) {
                return new MergeResult(true, "branch", commits.size(), List.of(), List.of(), List.of(), "already_merged",
                        taskRef, branchRef, existing.getObjectId().name());
            }
            return MergeResult.notMerged("branch", commits.size(), "branch_exists", taskRef, List.of(), List.of());
        }
        if (existing == null) {
            RefUpdate update = repo.updateRef(branchRef);
            update.setExpectedOldObjectId(ObjectId.zeroId());
            update.setNewObjectId(target);
            update.setRefLogMessage("microvm: publish task " + taskId, false);
            RefUpdate.Result result = update.update();
            if (result != RefUpdate.Result.NEW) {
                return MergeResult.notMerged("branch", commits.size(), "branch_exists", taskRef, List.of(), List.of());
            }
        }
        return new MergeResult(true, "branch", commits.size(), ChangedPaths.between(repo, base, target), List.of(),
                List.of(), null, taskRef, branchRef, target.name());
    }

    private static boolean alreadyContains(Repository repo, ObjectId branchTip, ObjectId taskTip) throws IOException {
        try (RevWalk walk = new RevWalk(repo)) {
            return walk.isMergedInto(walk.parseCommit(taskTip), walk.parseCommit(branchTip));
        }
    }
}
