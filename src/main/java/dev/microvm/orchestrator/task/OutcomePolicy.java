package dev.microvm.orchestrator.task;

import io.vertx.core.json.JsonObject;

import java.util.Optional;

/**
 * How a task ends, decided from facts alone: the agent's exit, what collecting found, the merge
 * result and strategy, a cancel request. Local and remote execution both end tasks through it.
 *
 * <pre>
 *   cancel requested ─────────────────────────────► CANCELLED (cancelled)        no merge
 *   collect found a problem (guest_incomplete, ...) ► FAILED    (that reason)      no merge
 *   otherwise merge, then:
 *     agent exit 0 or unknown, merge ok ───────────► COMPLETED
 *     agent exit ≠ 0 ──────────────────────────────► FAILED    (agent_failed)
 *     merge not ok ────────────────────────────────► FAILED    (the merge's reason, else merge_failed)
 *   merge ok = merged, or strategy is not auto, or there were no commits
 *   a failure on the way ──────────────────────────► FAILED, or CANCELLED when cancel was requested (a timeout stays FAILED)
 * </pre>
 */
public final class OutcomePolicy {

    private OutcomePolicy() {}

    /** A final state; {@code reason} and {@code error} are null for COMPLETED. */
    public record Outcome(TaskState state, FailureReason reason, String error) {
        public Outcome {
            if (!state.isTerminal()) throw new IllegalArgumentException("an outcome is a terminal state, not " + state);
        }
    }

    /**
     * After the VM stopped and its output was collected: the final outcome when the task ends
     * without a merge, empty when it goes on to merge.
     *
     * @param commits       commits the agent left (saved on refs/tasks/&lt;id&gt;)
     * @param collectReason the problem collecting found (wire name), or null
     */
    public static Optional<Outcome> afterCollect(String taskId, boolean cancelRequested, int commits, String collectReason, String collectError) {
        if (cancelRequested) {
            return Optional.of(new Outcome(TaskState.CANCELLED, FailureReason.CANCELLED,
                    commits > 0 ? "cancelled; the agent's commits are kept on refs/tasks/" + taskId : "cancelled"));
        }
        if (collectReason != null) return Optional.of(new Outcome(TaskState.FAILED, FailureReason.fromWire(collectReason), collectError));
        return Optional.empty();
    }

    /**
     * After the merge: COMPLETED when the agent succeeded and the merge did what the strategy asked.
     *
     * @param exitCode   the agent's exit code (null: unknown, taken as success as before)
     * @param agentError the agent's failure in words, or null
     * @param merge      the merge result (merged, commits, reason)
     * @param strategy   auto, branch or none
     */
    public static Outcome afterMerge(String taskId, Integer exitCode, String agentError, JsonObject merge, String strategy) {
        boolean agentOk = exitCode == null || exitCode == 0;
        boolean mergeOk = merge.getBoolean("merged", false) || !"auto".equals(strategy) || merge.getInteger("commits", 0) == 0;
        if (agentOk && mergeOk) return new Outcome(TaskState.COMPLETED, null, null);
        if (!agentOk) {
            return new Outcome(TaskState.FAILED, FailureReason.AGENT_FAILED,
                    agentError != null ? agentError : "the agent exited with code " + exitCode);
        }
        String reason = merge.getString("reason") != null ? merge.getString("reason") : FailureReason.MERGE_FAILED.wireName();
        return new Outcome(TaskState.FAILED, FailureReason.fromWire(reason),
                "merge did not complete (" + reason + "); commits are kept on refs/tasks/" + taskId);
    }

    /** The final state of a task that failed on the way: a cancel requested before wins, except over a timeout. */
    public static TaskState afterFailure(FailureReason reason, boolean cancelRequested) {
        return cancelRequested && reason != FailureReason.TIMEOUT ? TaskState.CANCELLED : TaskState.FAILED;
    }
}
