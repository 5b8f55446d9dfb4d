package dev.microvm.orchestrator.events;

import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class EventLogTest {

    @TempDir Path tmp;

    /** Test helper process: appends N events. */
    public static final class Appender {
        public static void main(String[] args) {
            EventLog log = new EventLog(Path.of(args[0]), Clock.systemUTC());
            for (int i = 0; i < Integer.parseInt(args[1]); i++) log.append("test", null, new JsonObject().put("who", args[2]).put("i", i));
        }
    }

    @Test
    void sequenceNumbersAreGlobalAcrossProcessesWithoutGapsOrRepeats() throws Exception {
        Path file = tmp.resolve("events/events.jsonl");
        List<Process> procs = new ArrayList<>();
        for (String who : List.of("a", "b", "c")) {
            procs.add(JavaProcess.builder(Appender.class, file.toString(), "150", who).inheritIO().start());
        }
        for (Process p : procs) {
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        }
        List<TaskEvent> all = new EventLog(file, Clock.systemUTC()).readAfter(0, 10_000);
        assertThat(all).hasSize(450);
        for (int i = 0; i < all.size(); i++) assertThat(all.get(i).seq()).isEqualTo(i + 1);
    }

    @Test
    void resumeAfterNReturnsExactlyTheLaterEvents() {
        EventLog log = new EventLog(tmp.resolve("e.jsonl"), Clock.systemUTC());
        for (int i = 0; i < 10; i++) log.append("t", "t1", new JsonObject().put("i", i));
        assertThat(log.readAfter(7, 100)).extracting(TaskEvent::seq).containsExactly(8L, 9L, 10L);
        assertThat(log.readAfter(0, 3)).extracting(TaskEvent::seq).containsExactly(1L, 2L, 3L);
        assertThat(log.lastSequence()).isEqualTo(10);
    }

    @Test
    void aTornLastLineFromACrashIsSkippedAndNumberingContinues() throws Exception {
        Path file = tmp.resolve("e.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        log.append("t", null, new JsonObject());
        log.append("t", null, new JsonObject());
        Files.writeString(file, "{\"seq\":3,\"ts\":\"x\",\"ty", StandardOpenOption.APPEND);
        TaskEvent next = log.append("t", null, new JsonObject());
        assertThat(next.seq()).isEqualTo(3);
        assertThat(log.readAfter(0, 100)).extracting(TaskEvent::seq).containsExactly(1L, 2L, 3L);
    }

    @Test
    void aFinalLineLongerThan64KiBDoesNotRestartTheNumbering() {
        EventLog log = new EventLog(tmp.resolve("e.jsonl"), Clock.systemUTC());
        log.append("t", null, new JsonObject());
        log.append("task.log", "t1", new JsonObject().put("lines", new io.vertx.core.json.JsonArray().add("\\".repeat(130_000))));
        assertThat(log.lastSequence()).isEqualTo(2);
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(3);
        assertThat(log.readAfter(0, 100)).extracting(TaskEvent::seq).containsExactly(1L, 2L, 3L);
    }

    @Test
    void aLineWrittenByAnAppenderKilledBeforeItsIndexRecordIsStillReadAndCounted() throws Exception {
        Path file = tmp.resolve("e.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        log.append("t", null, new JsonObject());
        log.append("t", null, new JsonObject());
        Path index = tmp.resolve("e.idx");
        try (var ch = java.nio.channels.FileChannel.open(index, StandardOpenOption.WRITE)) {
            ch.truncate(EventIndex.RECORD + 7); // second record lost, its first bytes torn
        }
        assertThat(log.readAfter(1, 100)).extracting(TaskEvent::seq).containsExactly(2L);
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(3);
        assertThat(Files.size(index)).isEqualTo(3L * EventIndex.RECORD);
    }

    @Test
    void indexRecordsPointingPastTheLogAreDroppedAndTheLogDecides() throws Exception {
        Path file = tmp.resolve("e.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        for (int i = 0; i < 3; i++) log.append("t", null, new JsonObject().put("i", i));
        EventIndex.write(java.nio.channels.FileChannel.open(tmp.resolve("e.idx"), StandardOpenOption.WRITE), 3,
                List.of(new EventIndex.Entry(99, 1_000_000, 50, 0)));
        assertThat(log.lastSequence()).isEqualTo(3);
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(4);
        assertThat(log.readAfter(0, 100)).extracting(TaskEvent::seq).containsExactly(1L, 2L, 3L, 4L);
    }

    @Test
    void aLogWrittenBeforeTheIndexExistedIsIndexedOnFirstUse() throws Exception {
        Path file = tmp.resolve("e.jsonl");
        StringBuilder old = new StringBuilder();
        for (long seq : new long[] {1, 2, 3, 1, 2, 4}) { // numbering that restarted, as older versions could
            old.append(new TaskEvent(seq, "x", "t", null, new JsonObject().put("n", seq)).toJson().encode()).append('\n');
        }
        Files.writeString(file, old);
        EventLog log = new EventLog(file, Clock.systemUTC());
        assertThat(log.readAfter(0, 100)).extracting(TaskEvent::seq).containsExactly(1L, 2L, 3L, 4L);
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(5);
    }
}
