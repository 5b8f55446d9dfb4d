package dev.microvm.orchestrator.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.microvm.orchestrator.config.AllowedDomains;
import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Set;

/**
 * Per-task choices made at submission. Null means "use the repository or node default". What each
 * may hold is {@code schemas/task-options.schema.json} (which the run_task and continue_task tools
 * advertise too); values are checked against it and bound here, unknown options refused.
 *
 * @param baseRef            branch or commit to start from (default: the repo's current branch tip)
 * @param mergeStrategy      auto | branch | none
 * @param timeoutSeconds     maximum run time of the agent; then the VM is forced off
 * @param agentCommand       shell command run in the guest instead of Claude Code
 * @param includeUncommitted carry the user's uncommitted changes into the task (never merged back)
 * @param untrackedPatterns  glob patterns of untracked files to copy (e.g. ".env")
 * @param network            full | allowlist | api-only | none
 * @param allowedDomains     under allowlist, the domains the egress proxy lets through (exact or "*." suffix);
 *                           at submission the task's own list is joined with the config's and the repository's
 * @param freshSetup         run the environment's setup even when its key is unchanged since this slot last ran it
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TaskOptions(
        @JsonProperty("base") String baseRef,
        @JsonProperty("merge_strategy") String mergeStrategy,
        @JsonProperty("timeout_seconds") Integer timeoutSeconds,
        @JsonProperty("cpus") Integer cpus,
        @JsonProperty("memory_mib") Integer memoryMiB,
        @JsonProperty("agent_command") String agentCommand,
        @JsonProperty("include_uncommitted") boolean includeUncommitted,
        @JsonProperty("untracked_patterns") List<String> untrackedPatterns,
        @JsonProperty("network") String network,
        @JsonProperty("allowed_domains") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> allowedDomains,
        @JsonProperty("fresh_setup") Boolean freshSetup) {

    public static final JsonSchema SCHEMA = JsonSchemas.load("task-options.schema.json", "option");
    public static final Set<String> MERGE_STRATEGIES = SCHEMA.enumValues("merge_strategy");

    public TaskOptions {
        untrackedPatterns = List.copyOf(untrackedPatterns == null ? List.of() : untrackedPatterns);
        // domain syntax (and its normal form) is AllowedDomains' rule, shared with config.json and repository defaults
        allowedDomains = AllowedDomains.of(allowedDomains == null ? List.of() : allowedDomains, "allowed_domains").patterns();
    }

    public static TaskOptions defaults() {
        return new TaskOptions(null, null, null, null, null, null, false, List.of(), null, List.of(), null);
    }

    public JsonObject toJson() {
        return JsonSchemas.toJson(this);
    }

    /** This task's options with the network policy and allowlist it runs with, settled at submission. */
    public TaskOptions withNetwork(String policy, List<String> domains) {
        return new TaskOptions(baseRef, mergeStrategy, timeoutSeconds, cpus, memoryMiB, agentCommand, includeUncommitted,
                untrackedPatterns, policy, domains, freshSetup);
    }

    /** Parses what a person or client asked for: checked against the schema, unknown options refused. */
    public static TaskOptions fromJson(JsonObject j) {
        return j == null ? defaults() : SCHEMA.read(j, "task options", TaskOptions.class);
    }

    /**
     * Reads options this program stored (a task record, or one shipped by another host): checked
     * like a request, so a base ref or pattern never skips its rule; options a newer version added
     * are skipped.
     */
    public static TaskOptions fromRecord(JsonObject j) {
        return j == null ? defaults() : fromJson(known(j));
    }

    /**
     * The options of a submit or continue request: nested under {@code options} (CLI, cluster), or
     * flat beside the request's own fields (MCP tool arguments, already checked against the tool's schema).
     */
    public static JsonObject requested(JsonObject request) {
        return request.getValue("options") instanceof JsonObject nested ? nested.copy() : known(request);
    }

    private static JsonObject known(JsonObject j) {
        Set<String> names = SCHEMA.propertyNames();
        JsonObject out = new JsonObject();
        j.forEach(e -> {
            if (names.contains(e.getKey())) out.put(e.getKey(), e.getValue());
        });
        return out;
    }
}
