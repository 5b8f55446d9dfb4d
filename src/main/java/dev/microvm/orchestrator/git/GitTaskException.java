package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.ReasonedException;

/**
 * A git operation on a task could not be carried out. {@code reason} is a stable code shown to
 * users and recorded in events: invalid_task_id, repo_not_found, base_not_found,
 * uncommitted_needs_head_base, workspace_not_empty, workspace_failed, bundle_not_regular_file,
 * bundle_too_large, bundle_corrupt, bundle_missing_prerequisite, bundle_unexpected_refs,
 * bundle_unexpected_objects, task_ref_conflict, task_not_found, io_error.
 */
public class GitTaskException extends ReasonedException {

    public GitTaskException(String reason, String message) { super(reason, message, null); }

    public GitTaskException(String reason, String message, Throwable cause) { super(reason, message, cause); }
}
