package dev.microvm.orchestrator.git;

/**
 * Outcome of bringing a guest's bundle home.
 *
 * @param hasCommits  false when the task produced no commits (no bundle, or nothing after the base)
 * @param tip         the task's tip commit, saved under {@code taskRef}; null without commits
 * @param commitCount commits after the agent's base
 * @param taskRef     {@code refs/tasks/<id>}, or null without commits
 */
public record ImportResult(boolean hasCommits, String tip, int commitCount, String taskRef) {
    static ImportResult noCommits() {
        return new ImportResult(false, null, 0, null);
    }
}
