package dev.microvm.orchestrator.git;

import java.nio.file.Path;

/**
 * A request to bring a task's imported commits ({@code refs/tasks/<id>}) into the user's repository.
 *
 * @param baseBranch      branch the task started from; null when it started from a detached HEAD or a commit
 * @param baseCommit      commit the task started from
 * @param agentBaseCommit first commit the agent saw ({@code baseCommit} or the uncommitted-changes
 *                        commit on top of it); only commits after it are merged
 */
public record MergeRequest(Path userRepo, String taskId, MergeStrategy strategy, String baseBranch,
                           String baseCommit, String agentBaseCommit) {
}
