package dev.microvm.orchestrator.task;

import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * The durable record of one task, written atomically to {@code tasks/<id>/task.json} before any
 * change is announced. Immutable: each change makes a new record with a higher {@code revision}.
 *
 * @param reason     the wire name of a {@link FailureReason} (boot_timeout, timeout, vm_lost, conflicts, ...), kept as
 *                   written: a name this version does not know still loads ({@link #failureReason()} is UNKNOWN)
 * @param prepared   how the workspace was prepared: base_commit, base_branch, agent_base_commit, method
 * @param result     what the agent reported: exit_code, summary, turns, cost...
 * @param mergeResult the merge-back outcome (merged, method, commits, conflicts, ...)
 */
public record TaskRecord(
        String id,
        long revision,
        String repo,
        String repoPath,
        String description,
        TaskState state,
        String caller,
        String node,
        TaskOptions options,
        String createdAt,
        String startedAt,
        String completedAt,
        Integer slot,
        Long pid,
        Integer exitCode,
        String reason,
        String error,
        String parentTaskId,
        boolean cancelRequested,
        JsonObject prepared,
        JsonObject result,
        JsonObject mergeResult,
        JsonObject usage) {

    public TaskRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(repo, "repo");
        options = options == null ? TaskOptions.defaults() : options;
    }

    public static TaskRecord queued(String id, String repo, String repoPath, String description, String caller,
                                    String node, TaskOptions options, String parentTaskId, String now) {
        return new TaskRecord(id, 0, repo, repoPath, description, TaskState.QUEUED, caller, node, options, now,
                null, null, null, null, null, null, null, parentTaskId, false, null, null, null, null);
    }

    /** A copy in {@code next} state; throws when the lifecycle forbids it. */
    public TaskRecord moveTo(TaskState next, String now) {
        if (!state.canMoveTo(next)) {
            throw new IllegalStateException("task " + id + ": illegal transition " + state + " -> " + next);
        }
        String started = next == TaskState.STARTING && startedAt == null ? now : startedAt;
        String completed = next.isTerminal() ? now : completedAt;
        return new TaskRecord(id, revision + 1, repo, repoPath, description, next, caller, node, options, createdAt,
                started, completed, slot, pid, exitCode, reason, error, parentTaskId, cancelRequested, prepared, result,
                mergeResult, usage);
    }

    /** A copy numbered right after {@code revision}, for a record that must supersede writes that may have failed half-way. */
    public TaskRecord revisedAfter(long revision) {
        return new TaskRecord(id, Math.max(this.revision, revision) + 1, repo, repoPath, description, state, caller, node, options,
                createdAt, startedAt, completedAt, slot, pid, exitCode, reason, error, parentTaskId, cancelRequested, prepared,
                result, mergeResult, usage);
    }

    public TaskRecord withSlot(Integer s) { return copy(b -> b.slot = s); }
    public TaskRecord withPid(Long p) { return copy(b -> b.pid = p); }
    public TaskRecord withExitCode(Integer c) { return copy(b -> b.exitCode = c); }
    public TaskRecord withFailure(FailureReason r, String e) { return withFailure(r.wireName(), e); }
    /** With a reason by its wire name, kept as given (a mirror of another host's record may name one this version does not know). */
    public TaskRecord withFailure(String r, String e) { return copy(b -> { b.reason = r; b.error = e; }); }

    /** The typed reason: null when none, {@link FailureReason#UNKNOWN} for a name this version does not know. */
    public FailureReason failureReason() { return FailureReason.fromWire(reason); }
    public TaskRecord withCancelRequested() { return copy(b -> b.cancelRequested = true); }
    public TaskRecord withPrepared(JsonObject p) { return copy(b -> b.prepared = p); }
    public TaskRecord withResult(JsonObject r) { return copy(b -> b.result = r); }
    public TaskRecord withMergeResult(JsonObject m) { return copy(b -> b.mergeResult = m); }
    public TaskRecord withUsage(JsonObject u) { return copy(b -> b.usage = u); }
    public TaskRecord withNode(String n) { return copy(b -> b.node = n); }

    private TaskRecord copy(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    /** JSON as stored on disk and returned by get_task_info (a superset of the original's fields). */
    public JsonObject toJson() {
        JsonObject j = new JsonObject()
                .put("task_id", id)
                .put("revision", revision)
                .put("repo", repo)
                .put("repo_path", repoPath)
                .put("description", description)
                .put("status", state.wireName())
                .put("caller", caller)
                .put("node", node)
                .put("options", options.toJson())
                .put("created_at", createdAt)
                .put("started_at", startedAt)
                .put("completed_at", completedAt)
                .put("slot", slot)
                .put("pid", pid)
                .put("exit_code", exitCode)
                .put("reason", reason)
                .put("error", error)
                .put("parent_task_id", parentTaskId)
                .put("cancel_requested", cancelRequested);
        if (prepared != null) j.put("prepared", prepared.copy());
        if (result != null) j.put("result", result.copy());
        if (mergeResult != null) j.put("merge_result", mergeResult.copy());
        if (usage != null) j.put("usage", usage.copy());
        return j;
    }

    public static TaskRecord fromJson(JsonObject j) {
        String id = j.getString("task_id");
        if (id == null) throw new IllegalArgumentException("task record has no task_id");
        String repo = j.getString("repo");
        if (repo == null) throw new IllegalArgumentException("task record " + id + " has no repo");
        Long rev = j.getLong("revision");
        return new TaskRecord(id, rev == null ? 0 : rev, repo, j.getString("repo_path"), j.getString("description"),
                TaskState.fromWire(j.getString("status")), j.getString("caller"), j.getString("node"),
                TaskOptions.fromRecord(j.getJsonObject("options")), j.getString("created_at"), j.getString("started_at"),
                j.getString("completed_at"), j.getInteger("slot"), j.getLong("pid"), j.getInteger("exit_code"),
                j.getString("reason"), j.getString("error"), j.getString("parent_task_id"),
                j.getBoolean("cancel_requested", false), j.getJsonObject("prepared"), j.getJsonObject("result"),
                j.getJsonObject("merge_result"), j.getJsonObject("usage"));
    }

    private static final class Builder {
        final TaskRecord r;
        Integer slot; Long pid; Integer exitCode; String reason; String error; boolean cancelRequested;
        JsonObject prepared; JsonObject result; JsonObject mergeResult; JsonObject usage; String node;

        Builder(TaskRecord r) {
            this.r = r;
            slot = r.slot; pid = r.pid; exitCode = r.exitCode; reason = r.reason; error = r.error;
            cancelRequested = r.cancelRequested; prepared = r.prepared; result = r.result;
            mergeResult = r.mergeResult; usage = r.usage; node = r.node;
        }

        TaskRecord build() {
            return new TaskRecord(r.id, r.revision + 1, r.repo, r.repoPath, r.description, r.state, r.caller, node,
                    r.options, r.createdAt, r.startedAt, r.completedAt, slot, pid, exitCode, reason, error,
                    r.parentTaskId, cancelRequested, prepared, result, mergeResult, usage);
        }
    }
}
