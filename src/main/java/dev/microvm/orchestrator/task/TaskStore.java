package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads and writes task records. Blocking: worker threads only. */
public final class TaskStore {

    private final StatePaths paths;

    public TaskStore(StatePaths paths) {
        this.paths = paths;
    }

    /**
     * Atomically replaces the record on disk (temp file + fsync + rename), as a compare-and-swap on
     * {@link TaskRecord#revision()}: the write is refused with {@link StaleRecordException} when the
     * disk already holds the same or a newer revision, so a record never goes back in time. The
     * comparison and the rename happen under the task's host lock ({@code task.lock}), so no other
     * thread or process on this host can write between them. A damaged record on disk is replaced.
     */
    public void save(TaskRecord record) {
        try {
            Files.createDirectories(paths.taskDir(record.id()));
            HostLock.withLock(paths.taskRecordLock(record.id()), ch -> {
                long onDisk = revisionOnDisk(record.id());
                if (onDisk >= record.revision()) throw new StaleRecordException(record.id(), record.revision(), onDisk);
                AtomicFiles.write(paths.taskRecord(record.id()), record.toJson().encodePrettily());
                return null;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write task record " + record.id(), e);
        }
    }

    /** The revision of the record on disk; -1 when there is none or it cannot be read. */
    private long revisionOnDisk(String taskId) {
        try {
            return load(taskId).map(TaskRecord::revision).orElse(-1L);
        } catch (CorruptRecordException e) {
            return -1;
        }
    }

    /** The record, empty when the task does not exist; a damaged record throws {@link CorruptRecordException}. */
    public Optional<TaskRecord> load(String taskId) {
        Path file = paths.taskRecord(taskId);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read task record " + file, e);
        }
        try {
            TaskRecord r = TaskRecord.fromJson(new JsonObject(text));
            if (!r.id().equals(taskId)) throw new IllegalArgumentException("record names task " + r.id());
            return Optional.of(r);
        } catch (DecodeException | IllegalArgumentException | ClassCastException e) {
            throw new CorruptRecordException(taskId, file, e.getMessage());
        }
    }

    /** Every task directory: its record, or the problem that prevents reading it. */
    public List<Entry> loadAll() {
        List<Entry> out = new ArrayList<>();
        Path dir = paths.tasksDir();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (!StatePaths.TASK_ID.matcher(name).matches() || !Files.isDirectory(p)) continue;
                try {
                    load(name).ifPresent(r -> out.add(new Entry(name, r, null)));
                } catch (CorruptRecordException e) {
                    out.add(new Entry(name, null, e.getMessage()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        out.sort((a, b) -> a.taskId().compareTo(b.taskId()));
        return out;
    }

    public record Entry(String taskId, TaskRecord record, String problem) {}

    public static final class CorruptRecordException extends RuntimeException {
        public CorruptRecordException(String taskId, Path file, String detail) {
            super("task record of " + taskId + " is damaged (" + file + "): " + detail
                    + ". The task is left untouched; inspect or remove that directory.");
        }
    }
}
