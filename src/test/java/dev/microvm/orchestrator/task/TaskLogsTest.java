package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskLogsTest {

    @TempDir Path tmp;

    private TaskRecord finished(StatePaths paths, String id) throws Exception {
        Files.createDirectories(paths.taskIo(id));
        return TaskRecord.queued(id, "repo", "/r", "do it", "c", "n", TaskOptions.defaults(), null, "2026-01-01T00:00:00Z")
                .moveTo(TaskState.CANCELLED, "2026-01-01T00:01:00Z");
    }

    @Test
    void theAgentLogIsReadInPagesFromTheGuestOutputDirectory() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        TaskRecord r = finished(paths, "t-pages");
        Files.createDirectories(paths.taskIo(r.id()).resolve("out"));
        Files.writeString(paths.taskIo(r.id()).resolve("out/agent.log"), "0123456789");
        JsonObject page = TaskLogs.read(paths, r, new JsonObject().put("stream", "agent").put("offset", 2).put("limit", 3));
        assertThat(page.getString("content")).isEqualTo("234");
        assertThat(page.getLong("next_offset")).isEqualTo(5);
        assertThat(page.getBoolean("eof")).isFalse();
        assertThat(TaskLogs.read(paths, r, new JsonObject().put("stream", "agent").put("tail", 4)).getString("content")).isEqualTo("6789");
        assertThat(TaskLogs.read(paths, r, new JsonObject().put("stream", "agent").put("tail", 0)).getString("content")).isEmpty();
    }

    @Test
    void aGuestThatTurnsItsOutputDirectoryIntoASymlinkIsRefusedAndNothingOutsideIsRead() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        TaskRecord r = finished(paths, "t-hostile");
        Path outside = Files.createDirectories(tmp.resolve("victim"));
        Files.writeString(outside.resolve("agent.log"), "PRIVATE-KEY-MATERIAL");
        Files.createSymbolicLink(paths.taskIo(r.id()).resolve("out"), outside);
        assertThatThrownBy(() -> TaskLogs.read(paths, r, new JsonObject().put("stream", "agent")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agent log of task t-hostile is refused")
                .hasMessageContaining("symbolic link")
                .hasMessageNotContaining("PRIVATE-KEY-MATERIAL");
    }

    @Test
    void anAgentLogThatIsALinkOrNotARegularFileIsRefused() throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        TaskRecord r = finished(paths, "t-link");
        Path out = Files.createDirectories(paths.taskIo(r.id()).resolve("out"));
        Files.writeString(tmp.resolve("secret"), "PRIVATE-KEY-MATERIAL");
        Files.createSymbolicLink(out.resolve("agent.log"), tmp.resolve("secret"));
        assertThatThrownBy(() -> TaskLogs.read(paths, r, new JsonObject().put("stream", "agent")))
                .hasMessageContaining("refused").hasMessageNotContaining("PRIVATE-KEY-MATERIAL");
        Files.delete(out.resolve("agent.log"));
        Files.createDirectory(out.resolve("agent.log"));
        assertThatThrownBy(() -> TaskLogs.read(paths, r, new JsonObject().put("stream", "agent")))
                .hasMessageContaining("not a regular file");
    }
}
