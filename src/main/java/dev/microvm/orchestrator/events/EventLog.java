package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import dev.microvm.orchestrator.util.HostLock;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable, append-only event log of one state directory: one JSON object per line, each with
 * a sequence number that is global to the directory. Several orchestrator processes may append
 * at once; an exclusive OS file lock around "read last sequence number, append" keeps the numbers
 * gap-free and unique. A consumer resumes with {@link #readAfter(long, int)}.
 *
 * <p>Blocking: call from worker threads only.
 */
public final class EventLog {

    private final Path file;
    private final Clock clock;

    public EventLog(Path file, Clock clock) {
        this.file = file;
        this.clock = clock;
    }

    public Path file() {
        return file;
    }

    /**
     * Appends one event and returns it with its {@code seq} and {@code ts} set.
     *
     * @param type    event type, for example {@code task.state}
     * @param taskId  the task it concerns, or null
     * @param data    event payload (never a secret)
     */
    public TaskEvent append(String type, String taskId, JsonObject data) {
        return appendLocked(type, taskId, data); // HostLock queues this JVM's threads, then other processes
    }

    private TaskEvent appendLocked(String type, String taskId, JsonObject data) {
        try {
            return HostLock.withLock(file, ch -> {
                long seq = lastSequence(ch) + 1;
                TaskEvent event = new TaskEvent(seq, clock.instant().toString(), type, taskId, data == null ? new JsonObject() : data);
                String prefix = endsWithNewline(ch) ? "" : "\n"; // a torn line from a crash stays on its own
                byte[] line = (prefix + event.toJson().encode() + "\n").getBytes(StandardCharsets.UTF_8);
                ch.position(ch.size());
                ByteBuffer buf = ByteBuffer.wrap(line);
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(false);
                return event;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to event log " + file, e);
        }
    }

    /** Events with a sequence number greater than {@code afterSeq}, oldest first, at most {@code limit}. */
    public List<TaskEvent> readAfter(long afterSeq, int limit) {
        List<TaskEvent> out = new ArrayList<>();
        if (!Files.exists(file)) return out;
        try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
            var it = lines.iterator();
            while (it.hasNext() && out.size() < limit) {
                TaskEvent e = parse(it.next());
                if (e != null && e.seq() > afterSeq) out.add(e);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read event log " + file, e);
        }
        return out;
    }

    /** The highest sequence number written so far (0 when empty). */
    public long lastSequence() {
        if (!Files.exists(file)) return 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return lastSequence(ch);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read event log " + file, e);
        }
    }

    private static boolean endsWithNewline(FileChannel ch) throws IOException {
        long size = ch.size();
        if (size == 0) return true;
        ByteBuffer one = ByteBuffer.allocate(1);
        ch.read(one, size - 1);
        return one.get(0) == '\n';
    }

    /** Reads backwards from the end to the last complete line; a torn final line is skipped. */
    private static long lastSequence(FileChannel ch) throws IOException {
        long size = ch.size();
        if (size == 0) return 0;
        int chunk = (int) Math.min(size, 64 * 1024);
        long pos = size - chunk;
        ByteBuffer buf = ByteBuffer.allocate(chunk);
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) break;
        }
        String tail = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        String[] lines = tail.split("\n");
        for (int i = lines.length - 1; i >= 0; i--) {
            TaskEvent e = parse(lines[i]);
            if (e != null) return e.seq();
        }
        return 0;
    }

    private static TaskEvent parse(String line) {
        if (line.isBlank()) return null;
        try {
            return TaskEvent.fromJson(new JsonObject(line));
        } catch (RuntimeException e) {
            return null; // torn or foreign line: never fatal for readers
        }
    }
}
