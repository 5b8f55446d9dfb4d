package dev.microvm.orchestrator.git;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * Outcome of a merge-back, as a value. {@code merged} means the task's commits are now on the
 * strategy's target ref (the base branch for auto, {@code microvm/<id>} for branch). Whatever the
 * outcome, the task's original commits stay on {@code refs/tasks/<id>} until cleanup is asked for.
 *
 * @param method       fast-forward, rebase, branch or none
 * @param commits      number of task commits (after the agent's base)
 * @param changedFiles files the merge changed on the target
 * @param conflicts    paths that could not be replayed (reason conflicts)
 * @param dirtyFiles   locally modified files that blocked updating the checked-out branch (reason dirty_worktree)
 * @param reason       null on success, otherwise a stable code: no_commits, conflicts, dirty_worktree,
 *                     base_branch_missing, base_not_a_branch, branch_exists, repository_busy,
 *                     concurrent_update, not_merged (strategy none), already_merged
 */
public record MergeResult(boolean merged, String method, int commits, List<String> changedFiles,
                          List<String> conflicts, List<String> dirtyFiles, String reason, String taskRef,
                          String branchRef, String newTip) {
    public MergeResult {
        changedFiles = changedFiles == null ? List.of() : List.copyOf(changedFiles);
        conflicts = conflicts == null ? List.of() : List.copyOf(conflicts);
        dirtyFiles = dirtyFiles == null ? List.of() : List.copyOf(dirtyFiles);
    }

    static MergeResult notMerged(String method, int commits, String reason, String taskRef, List<String> conflicts,
                                 List<String> dirtyFiles) {
        return new MergeResult(false, method, commits, List.of(), conflicts, dirtyFiles, reason, taskRef, null, null);
    }

    /** Snake_case; a superset of the fields merged, method, commits, conflicts, reason, task_ref. */
    public JsonObject toJson() {
        return new JsonObject()
                .put("merged", merged)
                .put("method", method)
                .put("commits", commits)
                .put("changed_files", new JsonArray(changedFiles))
                .put("conflicts", new JsonArray(conflicts))
                .put("dirty_files", new JsonArray(dirtyFiles))
                .put("reason", reason)
                .put("task_ref", taskRef)
                .put("branch_ref", branchRef)
                .put("new_tip", newTip);
    }
}
