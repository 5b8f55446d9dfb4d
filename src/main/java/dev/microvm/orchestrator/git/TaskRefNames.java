package dev.microvm.orchestrator.git;

import java.util.regex.Pattern;

/**
 * Names of the refs a task owns. Task ids end up inside ref names and file names, so they are
 * validated here, at the boundary, against a strict pattern.
 */
public final class TaskRefNames {
    private static final Pattern TASK_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    private TaskRefNames() {
    }

    public static String requireValidTaskId(String taskId) throws GitTaskException {
        if (taskId == null || !TASK_ID.matcher(taskId).matches()) {
            throw new GitTaskException("invalid_task_id",
                    "task id must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}, got: " + taskId);
        }
        return taskId;
    }

    /** Where the guest's commits are saved, exactly as they arrived. */
    public static String taskRef(String taskId) {
        return "refs/tasks/" + taskId;
    }

    /** Keeps the commit holding the user's uncommitted changes alive for the task's lifetime. */
    public static String baseRef(String taskId) {
        return "refs/microvm-base/" + taskId;
    }

    /** The branch the agent works on inside its workspace, and the branch the BRANCH strategy publishes. */
    public static String taskBranch(String taskId) {
        return "microvm/" + taskId;
    }

    public static String taskBranchRef(String taskId) {
        return "refs/heads/" + taskBranch(taskId);
    }
}
