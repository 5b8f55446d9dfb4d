package dev.microvm.orchestrator.task;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskStateTest {

    private static TaskRecord fresh() {
        return TaskRecord.queued("t123", "repo", "/r", "do it", "c", "n", TaskOptions.defaults(), null, "2026-01-01T00:00:00Z");
    }

    @Test
    void terminalStatesHaveNoSuccessors() {
        for (TaskState s : TaskState.values()) {
            assertThat(s.successors().isEmpty()).isEqualTo(s.isTerminal());
        }
    }

    @Test
    void illegalTransitionIsRefusedWithBothStatesNamed() {
        assertThatThrownBy(() -> fresh().moveTo(TaskState.COMPLETED, "now"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("QUEUED -> COMPLETED");
    }

    @Test
    void happyPathSetsTimestampsAndRevisions() {
        TaskRecord r = fresh().moveTo(TaskState.STARTING, "a").moveTo(TaskState.RUNNING, "b")
                .moveTo(TaskState.MERGING, "c").moveTo(TaskState.COMPLETED, "d");
        assertThat(r.startedAt()).isEqualTo("a");
        assertThat(r.completedAt()).isEqualTo("d");
        assertThat(r.revision()).isEqualTo(4);
        assertThat(TaskRecord.fromJson(r.toJson())).isEqualTo(r);
    }

    @Property(tries = 500)
    void randomSequencesNeverReachAnInvalidStateNorLeaveATerminalOne(@ForAll("sequences") List<TaskState> attempts) {
        TaskRecord r = fresh();
        for (TaskState next : attempts) {
            TaskState before = r.state();
            try {
                r = r.moveTo(next, "t");
                assertThat(before.canMoveTo(next)).isTrue();
            } catch (IllegalStateException e) {
                assertThat(before.canMoveTo(next)).isFalse();
                assertThat(r.state()).isEqualTo(before);
            }
            if (before.isTerminal()) assertThat(r.state()).isEqualTo(before);
        }
    }

    @Provide
    Arbitrary<List<TaskState>> sequences() {
        return Arbitraries.of(TaskState.class).list().ofMinSize(1).ofMaxSize(20);
    }

    @Property(tries = 50)
    void concurrentTransitionAttemptsFromSeveralThreadsKeepTheLifecycle(@ForAll("sequences") List<TaskState> attempts)
            throws InterruptedException {
        AtomicReference<TaskRecord> ref = new AtomicReference<>(fresh());
        List<TaskRecord[]> applied = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch start = new CountDownLatch(1);
        for (TaskState next : attempts) {
            pool.submit(() -> {
                start.await();
                while (true) {
                    TaskRecord cur = ref.get();
                    TaskRecord moved;
                    try {
                        moved = cur.moveTo(next, "t");
                    } catch (IllegalStateException e) {
                        return null;
                    }
                    if (ref.compareAndSet(cur, moved)) {
                        applied.add(new TaskRecord[]{cur, moved});
                        return null;
                    }
                }
            });
        }
        start.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        List<TaskRecord[]> history = new ArrayList<>(applied);
        history.sort(java.util.Comparator.comparingLong(p -> p[1].revision()));
        TaskState cur = TaskState.QUEUED;
        for (TaskRecord[] step : history) {
            assertThat(step[0].state()).isEqualTo(cur);
            assertThat(cur.canMoveTo(step[1].state())).isTrue();
            assertThat(cur.isTerminal()).isFalse();
            cur = step[1].state();
        }
        assertThat(ref.get().state()).isEqualTo(cur);
    }

    @org.junit.jupiter.api.Test
    void aWireNameIsTerminalExactlyWhenItsStateIs() {
        for (TaskState t : TaskState.values()) {
            assertThat(TaskState.isTerminalWire(t.wireName())).isEqualTo(t.isTerminal());
            assertThat(TaskState.isTerminalWire(t.name())).isEqualTo(t.isTerminal());
        }
        assertThat(TaskState.isTerminalWire(null)).isFalse();
        assertThat(TaskState.isTerminalWire("finished")).isFalse();
    }

    private static boolean reachable(TaskState from, TaskState to) {
        if (from == to) return true;
        for (TaskState n : from.successors()) if (reachable(n, to)) return true;
        return false;
    }
}
