package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/** Threads of one process (worker threads, the proxy's own EventLog) append to one log at once. */
class EventLogThreadsTest {

    @TempDir Path tmp;

    @Test
    void concurrentAppendsFromThreadsOfOneProcessAllLandWithUniqueGapFreeNumbers() throws Exception {
        Path file = tmp.resolve("events/events.jsonl");
        List<EventLog> logs = List.of(new EventLog(file, Clock.systemUTC()), new EventLog(file, Clock.systemUTC()));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            EventLog log = logs.get(t % 2);
            futures.add(pool.submit(() -> {
                for (int i = 0; i < 50; i++) log.append("task.state", "t1", new JsonObject().put("i", i));
            }));
        }
        for (Future<?> f : futures) f.get();
        pool.shutdown();
        List<Long> seqs = logs.getFirst().readAfter(0, 10_000).stream().map(TaskEvent::seq).toList();
        assertThat(seqs).hasSize(400);
        for (int i = 0; i < seqs.size(); i++) assertThat(seqs.get(i)).isEqualTo(i + 1L);
    }
}
