package dev.microvm.orchestrator.git;

import java.util.Locale;

/** How a finished task's commits come back to the user's repository. */
public enum MergeStrategy {
    /** Fast-forward the base branch, or rebase the task's commits onto its current tip. */
    AUTO,
    /** Publish the commits as branch {@code microvm/<id>}; the user's branch is left alone. */
    BRANCH,
    /** Keep the commits on {@code refs/tasks/<id>} only. */
    NONE;

    public static MergeStrategy parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("merge strategy must be one of auto, branch, none; got: " + text);
        }
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
