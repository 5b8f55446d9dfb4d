package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class TaskStateIndexTest {

    @TempDir Path dir;

    @Test
    void reads_appended_events_incrementally_and_filters_terminal_events_by_caller() {
        Path file = dir.resolve("events.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        TaskStateIndex index = new TaskStateIndex(file);
        index.refresh(); // no file yet
        log.append(EventTypes.TASK_STATE, "a", new JsonObject().put("state", "QUEUED").put("caller", "me"));
        log.append(EventTypes.TASK_STATE, "b", new JsonObject().put("state", "QUEUED").put("caller", "other"));
        log.append(EventTypes.TASK_LOG, "a", new JsonObject().put("lines", "x"));
        index.refresh();
        assertThat(index.unfinished("me")).containsExactly("a");
        assertThat(index.lastSeq()).isEqualTo(3);
        log.append(EventTypes.TASK_STATE, "b", new JsonObject().put("state", "COMPLETED"));
        log.append(EventTypes.TASK_STATE, "a", new JsonObject().put("state", "FAILED"));
        index.refresh();
        assertThat(index.firstTerminalAfter(0, "me").orElseThrow().taskId()).isEqualTo("a");
        assertThat(index.firstTerminalAfter(0, null).orElseThrow().taskId()).isEqualTo("b");
        assertThat(index.firstTerminalAfter(5, "me")).isEmpty();
        assertThat(index.unfinished(null)).isEmpty();
    }

    @Test
    void a_torn_last_line_is_read_once_it_is_complete() throws Exception {
        Path file = dir.resolve("events.jsonl");
        TaskStateIndex index = new TaskStateIndex(file);
        String line = new JsonObject().put("seq", 1).put("ts", "t").put("type", "task.state").put("task_id", "a")
                .put("data", new JsonObject().put("state", "COMPLETED")).encode();
        Files.writeString(file, line.substring(0, 20));
        index.refresh();
        assertThat(index.firstTerminalAfter(0, null)).isEmpty();
        Files.writeString(file, line.substring(20) + "\n", StandardOpenOption.APPEND);
        index.refresh();
        assertThat(index.firstTerminalAfter(0, null)).isPresent();
    }

    @Test
    void claimed_tasks_count_as_the_callers_own() {
        Path file = dir.resolve("events.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        TaskStateIndex index = new TaskStateIndex(file);
        index.claim("a", "me");
        log.append(EventTypes.TASK_STATE, "a", new JsonObject().put("state", "CANCELLED"));
        index.refresh();
        assertThat(index.firstTerminalAfter(0, "me")).isPresent();
        assertThat(index.finished("a")).isTrue();
    }

    @Test
    void started_after_a_cursor_it_reads_only_the_later_events_and_learns_callers_from_claims() {
        Path file = dir.resolve("events.jsonl");
        EventLog log = new EventLog(file, Clock.systemUTC());
        log.append(EventTypes.TASK_STATE, "old", new JsonObject().put("state", "QUEUED").put("caller", "me"));
        log.append(EventTypes.TASK_STATE, "old", new JsonObject().put("state", "COMPLETED"));
        log.append(EventTypes.TASK_STATE, "long", new JsonObject().put("state", "QUEUED").put("caller", "me"));
        long cursor = log.lastSequence();
        log.append(EventTypes.TASK_STATE, "long", new JsonObject().put("state", "COMPLETED"));

        TaskStateIndex index = new TaskStateIndex(file);
        index.startAfter(cursor);
        index.refresh();
        assertThat(index.finished("old")).as("before the cursor: not read").isFalse();
        assertThat(index.firstTerminalAfter(0, null).orElseThrow().taskId()).isEqualTo("long");
        assertThat(index.firstTerminalAfter(cursor, "me")).as("its queued event lies before the cursor").isEmpty();
        index.claim("long", "me"); // from the task list, as a wait does first
        assertThat(index.firstTerminalAfter(cursor, "me").orElseThrow().seq()).isEqualTo(4);
        assertThat(index.lastSeq()).isEqualTo(4);
    }
}
