package dev.microvm.orchestrator.vm;

import java.util.Map;
import java.util.TreeSet;

/**
 * The network policies ({@code full}, {@code allowlist}, {@code api-only}, {@code none}) a driver
 * enforces on this host. A task asking for another one is refused before any VM starts, with
 * {@link #refusal}: a policy is never silently weakened.
 *
 * @param enforced policy → how the driver enforces it (shown to users)
 * @param refused  policy → why the driver cannot enforce it on this host
 */
public record NetworkSupport(Map<String, String> enforced, Map<String, String> refused) {
    public NetworkSupport {
        enforced = Map.copyOf(enforced);
        refused = Map.copyOf(refused);
    }

    public static NetworkSupport of(Map<String, String> enforced, Map<String, String> refused) {
        return new NetworkSupport(enforced, refused);
    }

    public boolean enforces(String policy) {
        return enforced.containsKey(policy);
    }

    /** The message a refused task carries. */
    public String refusal(String driver, String policy) {
        String why = refused.getOrDefault(policy, "the " + driver + " driver does not enforce it");
        return "network '" + policy + "' cannot be enforced here: " + why + ". This host enforces: "
                + String.join(", ", new TreeSet<>(enforced.keySet())) + " (choose one with the run_task option network, or default_network in config.json)";
    }
}
