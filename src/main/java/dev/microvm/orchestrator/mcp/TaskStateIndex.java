package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the event log says about tasks, kept up to date by reading only the bytes appended since
 * the last look: which caller started each task, each task's latest state, and every terminal
 * {@code task.state} event by sequence number. Other orchestrator processes append to the same
 * log, so this reads the file rather than trusting this process's event bus alone.
 *
 * <p>Blocking: worker threads only. Thread-safe.
 */
final class TaskStateIndex {

    private static final String STATE_MARKER = "\"" + EventTypes.TASK_STATE + "\"";
    private static final String PROGRESS_MARKER = "\"" + EventTypes.TASK_PROGRESS + "\"";

    private final Path file;
    private final EventLog log;
    private long offset;
    private Object fileKey;
    private final Map<String, String> callerOf = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, String> stateOf = new HashMap<>();
    private final TreeMap<Long, TaskEvent> terminalEvents = new TreeMap<>();
    /** The latest task.progress data of each unfinished task (the agent's turns, tool uses, cost). */
    private final Map<String, JsonObject> progressOf = new HashMap<>();
    /** Kept beside stateOf so a look-up costs the unfinished tasks, not every task the log ever saw. */
    private final Set<String> unfinishedTasks = new LinkedHashSet<>();
    private long lastSeq;

    TaskStateIndex(Path eventLogFile) {
        this.file = eventLogFile;
        this.log = new EventLog(eventLogFile, java.time.Clock.systemUTC());
    }

    /**
     * Before the first {@link #refresh}: read only what follows {@code seq} (the caller's delivery
     * cursor; what lies before it was handed out already), found through the log's index, so a new
     * MCP process does not read the whole log. Which tasks are the caller's and which still run
     * then also come from the task list ({@link #claim}).
     */
    synchronized void startAfter(long seq) {
        if (fileKey != null || offset != 0) return; // already reading
        offset = log.offsetAfter(seq);
        lastSeq = Math.max(lastSeq, seq);
    }

    static boolean isTerminal(String state) {
        return TaskState.isTerminalWire(state);
    }

    /** Reads complete lines appended since the last call. A torn last line is read next time. */
    synchronized void refresh() {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            Object key = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            // retention rewrites the log into a new file: start over (entries are idempotent)
            if (size < offset || key != null && fileKey != null && !key.equals(fileKey)) offset = log.offsetAfter(lastSeq);
            fileKey = key;
            if (size == offset) return;
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - offset, 8L * 1024 * 1024));
            while (offset < size) {
                buf.clear();
                int n = ch.read(buf, offset);
                if (n <= 0) break;
                int lastNewline = -1;
                for (int i = n - 1; i >= 0; i--) if (buf.get(i) == '\n') { lastNewline = i; break; }
                if (lastNewline < 0) {
                    if (n < buf.capacity()) break; // torn line at the end: wait for its newline
                    buf = ByteBuffer.allocate(buf.capacity() * 2); // a single line longer than the buffer
                    continue;
                }
                String chunk = new String(buf.array(), 0, lastNewline + 1, StandardCharsets.UTF_8);
                for (String line : chunk.split("\n")) apply(line);
                offset += lastNewline + 1;
            }
        } catch (NoSuchFileException e) {
            // no event yet
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read event log " + file, e);
        }
    }

    private void apply(String line) {
        if (line.isBlank()) return;
        if (line.contains(PROGRESS_MARKER)) {
            applyProgress(line);
            return;
        }
        if (!line.contains(STATE_MARKER)) {
            trackSeq(line);
            return;
        }
        TaskEvent event;
        try {
            event = TaskEvent.fromJson(new JsonObject(line));
        } catch (RuntimeException e) {
            return; // foreign or torn line: never fatal for readers
        }
        lastSeq = Math.max(lastSeq, event.seq());
        if (!EventTypes.TASK_STATE.equals(event.type()) || event.taskId() == null) return;
        String caller = event.data().getString("caller");
        if (caller != null) callerOf.putIfAbsent(event.taskId(), caller);
        String state = event.data().getString("state");
        if (state == null) return;
        stateOf.put(event.taskId(), state.toUpperCase(java.util.Locale.ROOT));
        if (isTerminal(state)) {
            terminalEvents.put(event.seq(), event);
            progressOf.remove(event.taskId());
            unfinishedTasks.remove(event.taskId());
        } else {
            unfinishedTasks.add(event.taskId());
        }
    }

    private void applyProgress(String line) {
        TaskEvent event;
        try {
            event = TaskEvent.fromJson(new JsonObject(line));
        } catch (RuntimeException e) {
            trackSeq(line);
            return;
        }
        lastSeq = Math.max(lastSeq, event.seq());
        if (!EventTypes.TASK_PROGRESS.equals(event.type()) || event.taskId() == null) return;
        if (isTerminal(stateOf.get(event.taskId()))) return;
        progressOf.put(event.taskId(), event.data());
    }

    /** The latest agent progress of each unfinished task of the caller (all when caller is null). */
    synchronized Map<String, JsonObject> progress(String caller) {
        Map<String, JsonObject> out = new TreeMap<>();
        progressOf.forEach((id, data) -> {
            if (caller == null || caller.equals(callerOf.get(id))) out.put(id, data);
        });
        return out;
    }

    private void trackSeq(String line) {
        int i = line.indexOf("\"seq\":");
        if (i < 0) return;
        int j = i + 6;
        long v = 0;
        boolean digits = false;
        while (j < line.length() && Character.isDigit(line.charAt(j))) {
            v = v * 10 + (line.charAt(j++) - '0');
            digits = true;
        }
        if (digits) lastSeq = Math.max(lastSeq, v);
    }

    /** Records that {@code caller} started the task (learned from a submit reply or a task list). */
    void claim(String taskId, String caller) {
        if (taskId != null && caller != null) callerOf.putIfAbsent(taskId, caller);
    }

    /** The caller that started the task, when known. */
    String callerOf(String taskId) {
        return callerOf.get(taskId);
    }

    /** The highest sequence number read so far. */
    synchronized long lastSeq() {
        return lastSeq;
    }

    /** The oldest terminal event after {@code cursor} of a task the caller started (any task when caller is null). */
    synchronized Optional<TaskEvent> firstTerminalAfter(long cursor, String caller) {
        for (TaskEvent e : terminalEvents.tailMap(cursor, false).values()) {
            if (caller == null || caller.equals(callerOf.get(e.taskId()))) return Optional.of(e);
        }
        return Optional.empty();
    }

    /** Tasks the log shows as not finished yet, of the caller (all when caller is null). */
    synchronized Set<String> unfinished(String caller) {
        Set<String> out = new LinkedHashSet<>();
        for (String task : unfinishedTasks) {
            if (caller == null || caller.equals(callerOf.get(task))) out.add(task);
        }
        return out;
    }

    /** True when the log has a terminal state for the task. */
    synchronized boolean finished(String taskId) {
        return isTerminal(stateOf.get(taskId));
    }
}
