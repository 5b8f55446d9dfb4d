package dev.microvm.orchestrator.mcp;

import io.modelcontextprotocol.spec.McpSchema;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** Builds tool results: structured content on success, an {@code isError} result with actionable text otherwise. */
final class ToolResults {

    static final String REGISTER_HINT = "Register it with the shell command: microvm-orchestrator allow PATH"
            + " (list_repos shows the registered repositories).";
    static final String TASK_HINT = "list_tasks shows the known task ids.";

    private static final Pattern UNKNOWN_REPO = Pattern.compile(
            "(unknown|unregistered|not registered|not allowed|no such|not found).*repo|repo.*(unknown|not registered|not allowed|not found)",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern UNKNOWN_TASK = Pattern.compile(
            "(unknown|no such|not found).*task|task.*(unknown|not found|does not exist)", Pattern.CASE_INSENSITIVE);

    private ToolResults() {}

    static McpSchema.CallToolResult success(JsonObject structured) {
        return McpSchema.CallToolResult.builder()
                .structuredContent(PlainJson.toMap(structured))
                .content(List.of(new McpSchema.TextContent(structured.encode())))
                .isError(false)
                .build();
    }

    static McpSchema.CallToolResult error(String message) {
        return McpSchema.CallToolResult.builder()
                .content(List.of(new McpSchema.TextContent(message)))
                .isError(true)
                .build();
    }

    /** Turns an event-bus failure into text the model can act on. */
    static String describe(Throwable failure, String address) {
        if (failure instanceof ReplyException re) {
            return switch (re.failureType()) {
                case NO_HANDLERS -> "The orchestrator node is not reachable: nothing answers on " + address
                        + ". Check that the orchestrator is running (in daemon or cluster mode, that this host has joined it).";
                case TIMEOUT -> "The orchestrator did not answer on " + address + " in time. It may be overloaded;"
                        + " try again, and check list_tasks before repeating a run_task.";
                default -> withHint(re.getMessage() == null ? "request failed (code " + re.failureCode() + ")"
                        : FailureReason.fromCode(re.failureCode()).map(r -> new TaskFailure(r, re.getMessage()).display()).orElse(re.getMessage()));
            };
        }
        String message = failure.getMessage();
        return withHint(message == null ? failure.getClass().getSimpleName() : message);
    }

    static String withHint(String message) {
        String lower = message.toLowerCase(Locale.ROOT);
        if (UNKNOWN_REPO.matcher(message).find() && !lower.contains("microvm-orchestrator allow")) {
            return message + ". " + REGISTER_HINT;
        }
        if (UNKNOWN_TASK.matcher(message).find() && !lower.contains("list_tasks")) {
            return message + ". " + TASK_HINT;
        }
        return message;
    }
}
