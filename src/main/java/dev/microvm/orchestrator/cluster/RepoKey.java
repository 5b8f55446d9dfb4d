package dev.microvm.orchestrator.cluster;

import java.util.regex.Pattern;

/** A repository in the cluster: the host that has it (its home) and its alias there. */
public record RepoKey(String home, String alias) {

    private static final Pattern ALIAS = Pattern.compile("[A-Za-z0-9._-]{1,100}");

    public RepoKey {
        ClusterConfig.requireName(home, "home host");
        if (alias == null || !ALIAS.matcher(alias).matches() || alias.startsWith(".")) {
            throw new IllegalArgumentException("repository alias must match " + ALIAS.pattern() + " and not start with '.', got '" + alias + "'");
        }
    }

    @Override
    public String toString() {
        return home + "/" + alias;
    }
}
