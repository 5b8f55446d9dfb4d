package dev.microvm.orchestrator.git;

import java.nio.file.Path;
import java.util.List;

/**
 * A prepared task workspace.
 *
 * @param baseCommit       the commit the task starts from
 * @param baseBranch       the branch that commit was taken from, or null (detached HEAD or a commit)
 * @param agentBaseCommit  {@code baseCommit}, or the commit on top of it holding the user's
 *                         uncommitted changes; only commits after this one are ever merged back
 * @param method           how objects reach the workspace: "alternates", "clone-cow" or "copy"
 * @param sharedObjectsDir host directory the driver must share read-only with the guest, or null
 * @param copiedUntracked  untracked files copied into the workspace (relative paths)
 */
public record PreparedWorkspace(String baseCommit, String baseBranch, String agentBaseCommit, String method,
                                Path sharedObjectsDir, List<String> copiedUntracked) {
    public boolean hasUncommittedBase() {
        return !baseCommit.equals(agentBaseCommit);
    }
}
