package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskStoreTest {

    @TempDir Path tmp;

    private TaskRecord record(String id) {
        return TaskRecord.queued(id, "repo", "/r", "do it", "c", "n", TaskOptions.defaults(), null, "2026-01-01T00:00:00Z");
    }

    @Test
    void aTruncatedRecordIsReportedByNameAndTheOtherTasksStayReadable() throws Exception {
        StatePaths paths = new StatePaths(tmp);
        TaskStore store = new TaskStore(paths);
        store.save(record("tgood1"));
        store.save(record("tbad1"));
        String full = Files.readString(paths.taskRecord("tbad1"));
        Files.writeString(paths.taskRecord("tbad1"), full.substring(0, full.length() / 2));

        assertThatThrownBy(() -> store.load("tbad1")).isInstanceOf(TaskStore.CorruptRecordException.class)
                .hasMessageContaining("tbad1").hasMessageContaining("damaged").hasMessageContaining("left untouched");
        var all = store.loadAll();
        assertThat(all).hasSize(2);
        assertThat(all).filteredOn(e -> e.taskId().equals("tgood1")).singleElement().satisfies(e -> assertThat(e.record()).isNotNull());
        assertThat(all).filteredOn(e -> e.taskId().equals("tbad1")).singleElement().satisfies(e -> {
            assertThat(e.record()).isNull();
            assertThat(e.problem()).contains("damaged");
        });
        assertThat(Files.readString(paths.taskRecord("tbad1"))).isEqualTo(full.substring(0, full.length() / 2));
    }

    @Test
    void aRecordThatNamesAnotherTaskOrAnUnknownStateIsRefused() throws Exception {
        StatePaths paths = new StatePaths(tmp);
        TaskStore store = new TaskStore(paths);
        store.save(record("tone"));
        Files.createDirectories(paths.taskDir("ttwo"));
        Files.copy(paths.taskRecord("tone"), paths.taskRecord("ttwo"));
        assertThatThrownBy(() -> store.load("ttwo")).hasMessageContaining("names task tone");
        Files.writeString(paths.taskRecord("tone"), Files.readString(paths.taskRecord("tone")).replace("\"queued\"", "\"exploded\""));
        assertThatThrownBy(() -> store.load("tone")).hasMessageContaining("unknown task state 'exploded'");
    }

    @Test
    void aRecordIsNotWrittenOverBySameOrOlderRevision() {
        StatePaths paths = new StatePaths(tmp);
        TaskStore store = new TaskStore(paths);
        TaskRecord r0 = record("tcas");
        TaskRecord r1 = r0.withPid(1L);
        TaskRecord r2 = r1.withPid(2L);
        store.save(r0);
        store.save(r2);
        assertThatThrownBy(() -> store.save(r1)).isInstanceOf(StaleRecordException.class)
                .hasMessageContaining("revision 1").hasMessageContaining("revision 2");
        store.save(r2.withPid(3L).withPid(4L).withPid(5L).moveTo(TaskState.STARTING, "now"));
        assertThat(store.load("tcas")).map(TaskRecord::revision).contains(6L);
        assertThatThrownBy(() -> store.save(record("tcas"))).isInstanceOf(StaleRecordException.class)
                .satisfies(e -> {
                    assertThat(((StaleRecordException) e).offered()).isZero();
                    assertThat(((StaleRecordException) e).onDisk()).isEqualTo(6L);
                });
        assertThat(store.load("tcas")).map(TaskRecord::pid).contains(5L);
    }

    @Test
    void savingReplacesTheRecordAtomicallyWithoutLeavingTemporaryFiles() throws Exception {
        StatePaths paths = new StatePaths(tmp);
        TaskStore store = new TaskStore(paths);
        TaskRecord r = record("tatomic");
        for (int i = 0; i < 20; i++) {
            r = r.withPid((long) i);
            store.save(r);
        }
        assertThat(store.load("tatomic")).contains(r);
        try (var files = Files.list(paths.taskDir("tatomic"))) {
            // task.lock is the record's host lock, not a temporary file
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactlyInAnyOrder("task.json", "task.lock");
        }
    }
}
