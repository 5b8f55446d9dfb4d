package dev.microvm.orchestrator.mcp;

import java.util.Optional;
import java.util.Set;

/**
 * What the configured default guest image offers a task beyond the agent (its manifest's
 * {@code features}: {@code nix}, {@code containers}), as far as this MCP server knows: the tool
 * descriptions promise only that. Unknown (the image could not be read when the server started):
 * they say nothing either way.
 */
public record GuestFeatures(Optional<Set<String>> names) {

    public GuestFeatures {
        names = names.map(Set::copyOf);
    }

    public static GuestFeatures unknown() {
        return new GuestFeatures(Optional.empty());
    }

    public static GuestFeatures of(Set<String> names) {
        return new GuestFeatures(Optional.of(names));
    }

    public boolean known() {
        return names.isPresent();
    }

    /** Whether the image is known to offer {@code feature}; false when unknown. */
    public boolean has(String feature) {
        return names.map(n -> n.contains(feature)).orElse(false);
    }
}
