package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.JavaProcess;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** Records never go back a revision, whoever writes them and however their writes interleave. */
class RecordRevisionPropertyTest {

    private static final String TASK = "trevisions";

    private static TaskRecord at(long revision) {
        TaskRecord r = TaskRecord.queued(TASK, "repo", "/r", "do it", "c", "n", TaskOptions.defaults(), null, "2026-01-01T00:00:00Z");
        return new TaskRecord(r.id(), revision, r.repo(), r.repoPath(), r.description(), r.state(), r.caller(), r.node(), r.options(),
                r.createdAt(), null, null, null, revision, null, null, null, null, false, null, null, null, null);
    }

    @Provide
    Arbitrary<List<List<Long>>> writers() {
        return Arbitraries.longs().between(0, 30).list().ofMinSize(1).ofMaxSize(20).list().ofMinSize(2).ofMaxSize(4);
    }

    @Property(tries = 25)
    void concurrentWritersNeverTakeTheRecordBackAndEveryStaleWriteIsRefused(@ForAll("writers") List<List<Long>> writers) throws Exception {
        Path dir = Files.createTempDirectory("mvo-revisions");
        try {
            TaskStore store = new TaskStore(new StatePaths(dir));
            List<Long> accepted = Collections.synchronizedList(new ArrayList<>());
            ConcurrentLinkedQueue<StaleRecordException> refused = new ConcurrentLinkedQueue<>();
            List<Long> seen = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch go = new CountDownLatch(1);
            AtomicBoolean writing = new AtomicBoolean(true);
            Thread reader = Thread.ofPlatform().start(() -> {
                while (writing.get()) store.load(TASK).ifPresent(r -> seen.add(r.revision()));
            });
            List<Thread> threads = new ArrayList<>();
            for (List<Long> revisions : writers) {
                threads.add(Thread.ofPlatform().start(() -> {
                    awaitQuietly(go);
                    for (long rev : revisions) {
                        try {
                            store.save(at(rev));
                            accepted.add(rev);
                        } catch (StaleRecordException e) {
                            refused.add(e);
                        }
                    }
                }));
            }
            go.countDown();
            for (Thread t : threads) t.join();
            writing.set(false);
            reader.join();
            store.load(TASK).ifPresent(r -> seen.add(r.revision()));

            long max = writers.stream().flatMap(List::stream).mapToLong(Long::longValue).max().orElseThrow();
            assertThat(seen).isSortedAccordingTo(Long::compare);
            assertThat(accepted).doesNotHaveDuplicates();
            assertThat(store.load(TASK).orElseThrow().revision()).isEqualTo(max);
            assertThat(accepted.size() + refused.size()).isEqualTo(writers.stream().mapToInt(List::size).sum());
            for (StaleRecordException e : refused) {
                // a refusal names a revision that really was on disk, the same as or newer than the one offered
                assertThat(e.onDisk()).isGreaterThanOrEqualTo(e.offered());
                assertThat(accepted).contains(e.onDisk());
            }
        } finally {
            dev.microvm.orchestrator.util.FileTrees.delete(dir);
        }
    }

    @Test
    void twoProcessesWritingInterleavedRevisionsLeaveTheNewestOnDisk() throws Exception {
        Path dir = Files.createTempDirectory("mvo-revisions");
        try {
            Process even = JavaProcess.builder(Writer.class, dir.toString(), "0").redirectErrorStream(true).start();
            Process odd = JavaProcess.builder(Writer.class, dir.toString(), "1").redirectErrorStream(true).start();
            TaskStore store = new TaskStore(new StatePaths(dir));
            List<Long> seen = new ArrayList<>();
            while (even.isAlive() || odd.isAlive()) {
                try {
                    store.load(TASK).ifPresent(r -> seen.add(r.revision()));
                } catch (TaskStore.CorruptRecordException e) {
                    throw new AssertionError("a reader saw a torn record", e);
                }
            }
            assertThat(even.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(odd.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String evenOut = new String(even.getInputStream().readAllBytes());
            String oddOut = new String(odd.getInputStream().readAllBytes());
            assertThat(even.exitValue()).as(evenOut).isZero();
            assertThat(odd.exitValue()).as(oddOut).isZero();
            assertThat(seen).isSortedAccordingTo(Long::compare);
            assertThat(store.load(TASK).orElseThrow().revision()).isEqualTo(Writer.LAST);
        } finally {
            dev.microvm.orchestrator.util.FileTrees.delete(dir);
        }
    }

    /**
     * A second process: writes every other revision up to {@link #LAST}; a write may be refused only
     * when the disk already holds the same or a newer revision (the other process's).
     */
    public static final class Writer {
        static final long LAST = 300;

        public static void main(String[] args) {
            TaskStore store = new TaskStore(new StatePaths(Path.of(args[0])));
            for (long rev = Long.parseLong(args[1]); rev <= LAST; rev += 2) {
                try {
                    store.save(at(rev));
                } catch (StaleRecordException e) {
                    if (e.onDisk() < rev) throw new AssertionError("refused " + rev + " with only " + e.onDisk() + " on disk");
                }
            }
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
