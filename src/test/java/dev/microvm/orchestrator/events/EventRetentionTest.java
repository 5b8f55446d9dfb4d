package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class EventRetentionTest {

    @TempDir Path tmp;

    private static JsonObject lines(int chars) {
        return new JsonObject().put("stream", "console").put("lines", new JsonArray().add("x".repeat(chars)));
    }

    /** Per task: queued, 5 console events of ~1 KB, completed. */
    private static void fill(EventLog log, int tasks) {
        for (int t = 0; t < tasks; t++) {
            String id = "t-" + t;
            log.append(EventTypes.TASK_STATE, id, new JsonObject().put("state", "queued"));
            for (int i = 0; i < 5; i++) log.append(EventTypes.TASK_LOG, id, lines(1000));
            log.append(EventTypes.TASK_STATE, id, new JsonObject().put("state", "completed"));
        }
    }

    @Test
    void overTheByteLimitTheOldestConsoleLinesGoAndEveryStateChangeStays() {
        EventLog log = new EventLog(tmp.resolve("events.jsonl"), Clock.systemUTC());
        fill(log, 10); // 70 events, 50 console events
        List<TaskEvent> before = log.readAfter(0, 1000);
        EventRetention.Result r = new EventRetention(log, Clock.systemUTC(), null, 12_000).run();
        assertThat(r.droppedEvents()).isBetween(35L, 45L);

        List<TaskEvent> after = log.readAfter(0, 1000);
        List<Long> seqs = after.stream().map(TaskEvent::seq).toList();
        assertThat(seqs).isSorted().doesNotHaveDuplicates();
        assertThat(after.stream().filter(e -> e.type().equals(EventTypes.TASK_STATE)).toList())
                .isEqualTo(before.stream().filter(e -> e.type().equals(EventTypes.TASK_STATE)).toList());
        long keptLogBytes = after.stream().filter(e -> e.type().equals(EventTypes.TASK_LOG)).mapToLong(e -> e.toJson().encode().length() + 1).sum();
        assertThat(keptLogBytes).isLessThanOrEqualTo(12_000);
        // the kept console lines are the newest ones
        long firstKeptLog = after.stream().filter(e -> e.type().equals(EventTypes.TASK_LOG)).findFirst().orElseThrow().seq();
        assertThat(before.stream().filter(e -> e.type().equals(EventTypes.TASK_LOG) && e.seq() >= firstKeptLog).count())
                .isEqualTo(after.stream().filter(e -> e.type().equals(EventTypes.TASK_LOG)).count());

        List<TaskEvent> markers = after.stream().filter(e -> e.type().equals(EventTypes.LOG_COMPACTED)).toList();
        assertThat(markers).hasSize(1);
        assertThat(markers.getFirst().seq()).isEqualTo(r.markerSeq());
        assertThat(markers.getFirst().data().getString("message")).contains("get_task_logs");

        // a resume inside the compacted range: the kept events after it, then the one marker
        List<TaskEvent> resumed = log.readAfter(3, 1000);
        assertThat(resumed.stream().filter(e -> e.type().equals(EventTypes.LOG_COMPACTED))).hasSize(1);
        assertThat(resumed.getFirst().seq()).isGreaterThan(3);
        // a resume past it sees no marker
        assertThat(log.readAfter(r.markerSeq(), 1000)).noneMatch(e -> e.type().equals(EventTypes.LOG_COMPACTED));
        // numbering goes on after the last event, not after the marker
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(before.getLast().seq() + 1);
    }

    @Test
    void consoleLinesOlderThanTheAgeLimitGoAndALaterRunReplacesTheMarker() throws Exception {
        Path file = tmp.resolve("events.jsonl");
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        fill(new EventLog(file, Clock.fixed(t0, ZoneOffset.UTC)), 3);
        EventLog later = new EventLog(file, Clock.fixed(t0.plus(Duration.ofDays(10)), ZoneOffset.UTC));
        fill(later, 2);
        long sizeBefore = Files.size(file);

        Clock now = Clock.fixed(t0.plus(Duration.ofDays(10)).plusSeconds(60), ZoneOffset.UTC);
        EventRetention byAge = new EventRetention(later, now, Duration.ofDays(7), 0);
        EventRetention.Result r = byAge.run();
        assertThat(r.droppedEvents()).isEqualTo(15);
        assertThat(Files.size(file)).isLessThan(sizeBefore);
        assertThat(byAge.run()).as("nothing left to do").isEqualTo(new EventRetention.Result(0, 0, 0));

        List<TaskEvent> all = later.readAfter(0, 1000);
        assertThat(all.stream().filter(e -> e.type().equals(EventTypes.TASK_LOG))).hasSize(10);
        assertThat(all.stream().filter(e -> e.type().equals(EventTypes.TASK_STATE))).hasSize(10);

        // ten days on, the rest goes too: one marker, at the newest dropped line
        EventRetention.Result second = new EventRetention(later, Clock.fixed(t0.plus(Duration.ofDays(30)), ZoneOffset.UTC),
                Duration.ofDays(7), 0).run();
        assertThat(second.markerSeq()).isGreaterThan(r.markerSeq());
        List<TaskEvent> markers = later.readAfter(0, 1000).stream().filter(e -> e.type().equals(EventTypes.LOG_COMPACTED)).toList();
        assertThat(markers).extracting(TaskEvent::seq).containsExactly(second.markerSeq());
    }

    @Test
    void compactingWhileAnotherThreadAppendsLosesNoKeptEventAndKeepsTheNumbering() throws Exception {
        EventLog log = new EventLog(tmp.resolve("events.jsonl"), Clock.systemUTC());
        fill(log, 20);
        List<Long> appended = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread appender = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < 400; i++) {
                appended.add(log.append(EventTypes.TASK_STATE, "t-live", new JsonObject().put("state", "running").put("i", i)).seq());
                log.append(EventTypes.TASK_LOG, "t-live", lines(500));
            }
        });
        EventRetention retention = new EventRetention(log, Clock.systemUTC(), null, 20_000);
        int runs = 0;
        while (appender.isAlive()) {
            retention.run();
            List<TaskEvent> seen = log.readAfter(0, 100_000);
            assertThat(seen.stream().map(TaskEvent::seq).toList()).isSorted().doesNotHaveDuplicates();
            runs++;
        }
        appender.join();
        retention.run();
        List<TaskEvent> all = log.readAfter(0, 100_000);
        assertThat(all.stream().map(TaskEvent::seq).toList()).isSorted().doesNotHaveDuplicates();
        assertThat(all.stream().filter(e -> "t-live".equals(e.taskId()) && e.type().equals(EventTypes.TASK_STATE)).map(TaskEvent::seq).toList())
                .as("after %d compactions", runs).isEqualTo(appended);
        assertThat(all.stream().filter(e -> e.type().equals(EventTypes.TASK_STATE))).hasSize(40 + 400);
    }
}
