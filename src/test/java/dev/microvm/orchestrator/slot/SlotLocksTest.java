package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.JavaProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class SlotLocksTest {

    @TempDir Path tmp;

    @Test
    void aSlotIsHeldByOneOwnerAndReleasedExactlyOnce() {
        SlotLocks locks = new SlotLocks(new StatePaths(tmp), id -> false);
        assertThat(locks.tryAcquire(0, "a")).isTrue();
        assertThat(locks.tryAcquire(0, "b")).isFalse();
        assertThat(locks.release(0, "b")).isFalse();
        assertThat(locks.release(0, "a")).isTrue();
        assertThat(locks.release(0, "a")).isFalse();
        assertThat(locks.tryAcquire(0, "b")).isTrue();
    }

    @Test
    void aSlotClaimedByAnUnfinishedTaskStaysReservedAfterItsProcessDied() {
        StatePaths paths = new StatePaths(tmp);
        SlotLocks crashed = new SlotLocks(paths, id -> true);
        assertThat(crashed.tryAcquire(1, "running-task")).isTrue();
        crashed.releaseAll(); // the OS lock goes away as when a process dies; the claim file stays
        SlotLocks other = new SlotLocks(paths, id -> id.equals("running-task"));
        assertThat(other.tryAcquire(1, "newcomer")).isFalse();
        assertThat(other.tryAcquire(1, "running-task")).isTrue(); // its recovery re-takes it
        assertThat(new SlotLocks(paths, id -> false).claimant(1)).contains("running-task");
    }

    @Test
    void twoProcessesAllocatingFromOneStateDirectoryNeverShareASlot() throws Exception {
        int slots = 2;
        List<Process> procs = new ArrayList<>();
        Path go = tmp.resolve("go");
        for (String who : List.of("p1", "p2", "p3")) {
            procs.add(JavaProcess.builder(SlotLockProbe.class, tmp.resolve("state").toString(), Integer.toString(slots), "40",
                    tmp.resolve(who + ".log").toString(), who, go.toString()).inheritIO().start());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        for (String who : List.of("p1", "p2", "p3")) {
            while (!Files.exists(tmp.resolve(who + ".log.ready"))) {
                assertThat(System.nanoTime()).as("probe " + who + " started").isLessThan(deadline);
                Thread.sleep(20);
            }
        }
        Files.writeString(go, "");
        for (Process p : procs) {
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        }
        record Use(int slot, long start, long end, String task) {}
        List<Use> uses = new ArrayList<>();
        for (String who : List.of("p1", "p2", "p3")) {
            for (String line : Files.readAllLines(tmp.resolve(who + ".log"))) {
                String[] f = line.split(" ");
                uses.add(new Use(Integer.parseInt(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), f[3]));
            }
        }
        assertThat(uses).hasSizeGreaterThanOrEqualTo(100);
        assertThat(uses.stream().map(u -> u.task().substring(0, 2)).distinct().count()).isEqualTo(3);
        for (Use a : uses) {
            for (Use b : uses) {
                if (a == b || a.slot() != b.slot()) continue;
                boolean overlap = a.start() < b.end() && b.start() < a.end();
                assertThat(overlap).as("%s and %s overlap on slot %d", a.task(), b.task(), a.slot()).isFalse();
            }
        }
        assertThat(Set.copyOf(uses.stream().map(Use::slot).toList())).containsExactlyInAnyOrder(0, 1);
    }
}
