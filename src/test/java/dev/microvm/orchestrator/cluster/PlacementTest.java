package dev.microvm.orchestrator.cluster;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class PlacementTest {

    private static Placement.HostLoad host(String n, int slots, int busy, int queued) {
        return new Placement.HostLoad(n, slots, busy, queued);
    }

    @Test
    void theHomeHostWinsWhileItHasAFreeSlot() {
        assertThat(Placement.choose("a", List.of(host("a", 2, 1, 0), host("b", 8, 0, 0)))).contains("a");
    }

    @Test
    void aFullHomeHostSendsTheTaskToTheLeastLoadedHostWithAFreeSlot() {
        assertThat(Placement.choose("a", List.of(host("a", 2, 2, 0), host("b", 2, 1, 0), host("c", 4, 1, 0), host("d", 1, 1, 0))))
                .contains("c");
    }

    @Test
    void withNoFreeSlotAnywhereTheTaskQueues() {
        assertThat(Placement.choose("a", List.of(host("a", 1, 1, 0), host("b", 2, 1, 1)))).isEmpty();
    }

    @Test
    void aHomeHostThatLeftTheClusterIsNotChosen() {
        assertThat(Placement.choose("gone", List.of(host("b", 1, 0, 0)))).contains("b");
    }

    @Test
    void aHostWhoseDriverIsUnhealthyIsNeverChosenNotEvenAtHome() {
        Placement.HostLoad sickHome = new Placement.HostLoad("a", 4, 0, 0, false);
        assertThat(Placement.choose("a", List.of(sickHome, host("b", 2, 1, 0)))).contains("b");
        assertThat(Placement.choose("a", List.of(sickHome))).isEmpty();
        Placement.HostLoad offered = Placement.HostLoad.of(new io.vertx.core.json.JsonObject().put("node", "b").put("slots", 2)
                .put("busy", 0).put("queued", 0).put("healthy", false), 0);
        assertThat(offered.free()).isZero();
        assertThat(Placement.choose("a", List.of(host("a", 1, 1, 0), offered))).isEmpty();
    }

    @Property
    void theChosenHostAlwaysHasAFreeSlotAndHomeIsPreferred(@ForAll @Size(min = 1, max = 6) List<@IntRange(min = 0, max = 4) Integer> slots,
                                                           @ForAll @Size(min = 6, max = 6) List<@IntRange(min = 0, max = 5) Integer> busy) {
        List<Placement.HostLoad> hosts = new ArrayList<>();
        for (int i = 0; i < slots.size(); i++) hosts.add(host("h" + i, slots.get(i), Math.min(busy.get(i), slots.get(i)), 0));
        Optional<String> chosen = Placement.choose("h0", hosts);
        boolean anyFree = hosts.stream().anyMatch(h -> h.free() > 0);
        assertThat(chosen.isPresent()).isEqualTo(anyFree);
        chosen.ifPresent(c -> {
            Placement.HostLoad h = hosts.stream().filter(x -> x.node().equals(c)).findFirst().orElseThrow();
            assertThat(h.free()).isPositive();
            if (hosts.get(0).free() > 0) assertThat(c).isEqualTo("h0");
            for (Placement.HostLoad other : hosts) {
                if (other.free() > 0 && !c.equals("h0")) assertThat(other.share()).isGreaterThanOrEqualTo(h.share());
            }
        });
    }
}
