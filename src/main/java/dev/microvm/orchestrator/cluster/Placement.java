package dev.microvm.orchestrator.cluster;

import io.vertx.core.json.JsonObject;

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

    /**
     * One host's offer. Hosts that left the cluster are simply not listed; a host whose driver is
     * not healthy (it cannot boot a guest) is never chosen.
     */
    public record HostLoad(String node, int slots, int busy, int queued, boolean healthy) {
        public HostLoad(String node, int slots, int busy, int queued) {
            this(node, slots, busy, queued, true);
        }

        /** The offer a member answered ({@link dev.microvm.orchestrator.node.Addresses#CLUSTER_NODE_INFO}), {@code extraBusy} added to its busy slots. */
        public static HostLoad of(JsonObject offer, int extraBusy) {
            return new HostLoad(offer.getString("node"), offer.getInteger("slots", 0), offer.getInteger("busy", 0) + extraBusy,
                    offer.getInteger("queued", 0), offer.getBoolean("healthy", true));
        }

        public int free() {
            return healthy ? Math.max(0, slots - busy - queued) : 0;
        }

        double share() {
            return slots == 0 ? 1.0 : (double) (busy + queued) / slots;
        }
    }

    private Placement() {}

    public static Optional<String> choose(String home, List<HostLoad> hosts) {
        Optional<HostLoad> atHome = hosts.stream().filter(h -> h.node().equals(home)).findFirst();
        if (atHome.isPresent() && atHome.get().free() > 0) return Optional.of(home);
        // an unhealthy host has no free slot
        return hosts.stream().filter(h -> h.free() > 0)
                .min(Comparator.comparingDouble(HostLoad::share).thenComparingInt(HostLoad::busy).thenComparing(HostLoad::node))
                .map(HostLoad::node);
    }
}
