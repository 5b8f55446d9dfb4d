package dev.microvm.orchestrator.git;

import java.nio.file.Path;
import java.util.List;

/**
 * What a task's workspace should look like.
 *
 * @param userRepo               the registered repository (its working tree, or a bare repository)
 * @param workspaceDir           directory to create; must not exist or be empty
 * @param baseRef                branch name or commit to start from; null means the current HEAD
 * @param includeUncommitted     carry the user's uncommitted tracked changes as an extra base commit
 * @param untrackedPatterns      glob patterns of untracked files to copy (e.g. {@code .env}, {@code config/*.local})
 * @param objectsPathSeenByAgent where the guest sees the user's object directory (read-only share);
 *                               null when nothing can be shared read-only and objects must be cloned
 * @param taskId                 the task id
 */
public record PrepareRequest(Path userRepo, Path workspaceDir, String baseRef, boolean includeUncommitted,
                             List<String> untrackedPatterns, String objectsPathSeenByAgent, String taskId) {
    public PrepareRequest {
        untrackedPatterns = untrackedPatterns == null ? List.of() : List.copyOf(untrackedPatterns);
    }
}
