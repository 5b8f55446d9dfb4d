package dev.microvm.orchestrator.cluster;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Where a task runs. A repository lives on its home host, so the task runs there when the home
 * host has a free slot (no objects to ship, caches are warm); otherwise on the least-loaded host
 * with a free slot (the smallest share of busy slots, then the fewest busy slots, then the name,
 * so the choice is deterministic); otherwise nowhere yet: the task queues.
 */
public final class Placement {

    /** One host's offer. Hosts that left the cluster are simply not listed. */
    public record HostLoad(String node, int slots, int busy, int queued) {
        public int free() {
            return Math.max(0, slots - busy - queued);
        }

        double share() {
            return slots == 0 ? 1.0 : (double) (busy + queued) / slots;
        }
    }

    private Placement() {}

    public static Optional<String> choose(String home, List<HostLoad> hosts) {
        Optional<HostLoad> atHome = hosts.stream().filter(h -> h.node().equals(home)).findFirst();
        if (atHome.isPresent() && atHome.get().free() > 0) return Optional.of(home);
        return hosts.stream().filter(h -> h.free() > 0)
                .min(Comparator.comparingDouble(HostLoad::share).thenComparingInt(HostLoad::busy).thenComparing(HostLoad::node))
                .map(HostLoad::node);
    }
}
