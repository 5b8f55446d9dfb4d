package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonObject;

/** What a task leaves behind: the guest's output, its commits, the merge-back and the cleanup. */
public interface ResultOperations {

    /**
     * Reads the guest's output after its VM stopped and saves its commits under refs/tasks/&lt;id&gt;.
     *
     * @return {finished, exit_code, commits, task_tip?, task_ref?, result, agent_error?, reason?, error?}
     */
    JsonObject collect(String taskId);

    /** Merges the task's commits into the user's repository; @return the merge result */
    JsonObject merge(String taskId, String strategy);

    /** One page of the task's diff against its base. */
    JsonObject diff(String taskId, long offset, int limit);

    /** Removes the task's workspace, io share, control directory and (when asked) its ref. */
    JsonObject cleanup(String taskId, boolean deleteRef);
}
