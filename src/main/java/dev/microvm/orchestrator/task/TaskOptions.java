package dev.microvm.orchestrator.task;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Per-task choices made at submission. Null means "use the repository or node default".
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
 */
public record TaskOptions(
        String baseRef,
        String mergeStrategy,
        Integer timeoutSeconds,
        Integer cpus,
        Integer memoryMiB,
        String agentCommand,
        boolean includeUncommitted,
        List<String> untrackedPatterns,
        String network,
        List<String> allowedDomains) {

    public static final Set<String> MERGE_STRATEGIES = Set.of("auto", "branch", "none");
    public static final Set<String> NETWORK_POLICIES = Set.of("full", "allowlist", "api-only", "none");

    public TaskOptions {
        untrackedPatterns = List.copyOf(untrackedPatterns == null ? List.of() : untrackedPatterns);
        if (mergeStrategy != null) {
            mergeStrategy = mergeStrategy.toLowerCase(Locale.ROOT);
            if (!MERGE_STRATEGIES.contains(mergeStrategy)) {
                throw new IllegalArgumentException("merge_strategy must be one of auto, branch, none; got '" + mergeStrategy + "'");
            }
        }
        if (network != null && !NETWORK_POLICIES.contains(network)) {
            throw new IllegalArgumentException("network must be one of full, allowlist, api-only, none; got '" + network + "'");
        }
        allowedDomains = dev.microvm.orchestrator.config.AllowedDomains.of(allowedDomains == null ? List.of() : allowedDomains, "allowed_domains").patterns();
        if (timeoutSeconds != null && (timeoutSeconds < 1 || timeoutSeconds > 7 * 24 * 3600)) {
            throw new IllegalArgumentException("timeout_seconds must be between 1 and 604800; got " + timeoutSeconds);
        }
        if (cpus != null && (cpus < 1 || cpus > 64)) throw new IllegalArgumentException("cpus must be 1..64; got " + cpus);
        if (memoryMiB != null && (memoryMiB < 256 || memoryMiB > 262_144)) {
            throw new IllegalArgumentException("memory_mib must be 256..262144; got " + memoryMiB);
        }
        if (baseRef != null && (baseRef.isBlank() || baseRef.startsWith("-") || baseRef.contains("..") || baseRef.chars().anyMatch(c -> c < 0x20))) {
            throw new IllegalArgumentException("base must be a branch name or commit id; got '" + baseRef + "'");
        }
        for (String p : untrackedPatterns) {
            if (p.isBlank() || p.startsWith("/") || p.contains("..") || p.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("untracked pattern must be a relative glob without '..': '" + p + "'");
            }
        }
    }

    public static TaskOptions defaults() {
        return new TaskOptions(null, null, null, null, null, null, false, List.of(), null, List.of());
    }

    public JsonObject toJson() {
        JsonObject j = new JsonObject();
        if (baseRef != null) j.put("base", baseRef);
        if (mergeStrategy != null) j.put("merge_strategy", mergeStrategy);
        if (timeoutSeconds != null) j.put("timeout_seconds", timeoutSeconds);
        if (cpus != null) j.put("cpus", cpus);
        if (memoryMiB != null) j.put("memory_mib", memoryMiB);
        if (agentCommand != null) j.put("agent_command", agentCommand);
        j.put("include_uncommitted", includeUncommitted);
        j.put("untracked_patterns", new JsonArray(untrackedPatterns));
        if (network != null) j.put("network", network);
        if (!allowedDomains.isEmpty()) j.put("allowed_domains", new JsonArray(allowedDomains));
        return j;
    }

    /** This task's options with the network policy and allowlist it runs with, settled at submission. */
    public TaskOptions withNetwork(String policy, List<String> domains) {
        return new TaskOptions(baseRef, mergeStrategy, timeoutSeconds, cpus, memoryMiB, agentCommand, includeUncommitted,
                untrackedPatterns, policy, domains);
    }

    private static List<String> strings(JsonObject j, String key) {
        Object v = j.getValue(key);
        if (v == null) return List.of();
        if (!(v instanceof JsonArray a)) throw new IllegalArgumentException(key + " must be a list of strings");
        for (Object o : a) if (!(o instanceof String)) throw new IllegalArgumentException(key + " must be a list of strings; got " + o);
        return a.stream().map(String.class::cast).toList();
    }

    /** Parses user input; unknown keys are ignored, wrong types give a clear message. */
    public static TaskOptions fromJson(JsonObject j) {
        if (j == null) return defaults();
        try {
            JsonArray pats = j.getJsonArray("untracked_patterns");
            return new TaskOptions(j.getString("base"), j.getString("merge_strategy"), j.getInteger("timeout_seconds"),
                    j.getInteger("cpus"), j.getInteger("memory_mib"), j.getString("agent_command"),
                    j.getBoolean("include_uncommitted", false),
                    pats == null ? List.of() : pats.stream().map(String::valueOf).toList(), j.getString("network"),
                    strings(j, "allowed_domains"));
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("invalid task option type: " + e.getMessage());
        }
    }
}
