package dev.microvm.orchestrator.events;

import dev.microvm.orchestrator.util.HostLock;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * The durable, append-only event log of one state directory: one JSON object per line in
 * {@code events.jsonl}, each with a sequence number that is global to the directory, and a
 * sequence-number index beside it ({@link EventIndex}, {@code events.idx}).
 *
 * <p>Appends from every thread of every process queue on one host lock ({@code events.lock}).
 * Under it, the appender first settles the tail: index records that do not point at a complete
 * line are dropped, complete lines the index misses (an appender killed between writing its line
 * and its record) are indexed, and a torn last line is cut off. The next number is then the last
 * indexed one plus one, whatever the size of any line, so numbers are unique and strictly
 * increasing. Lines are forced to disk before their index records are written.
 *
 * <p>A read after N finds its start by binary search in the index and reads only the lines it
 * returns. Readers take no lock; they check every line against its record, so a record racing a
 * rewrite of the files (retention) is read again rather than misread.
 *
 * <p>Blocking: call from worker threads only.
 */
public final class EventLog {

    /** An event to append: the log assigns its sequence number and time. */
    public record Draft(String type, String taskId, JsonObject data) {}

    private static final int SCAN_CHUNK = 1 << 20;

    private final Path file;
    private final Path indexFile;
    private final Path lockFile;
    private final Clock clock;

    public EventLog(Path file, Clock clock) {
        this.file = file;
        this.indexFile = sibling(file, ".idx");
        this.lockFile = sibling(file, ".lock");
        this.clock = clock;
    }

    private static Path sibling(Path file, String suffix) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return file.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + suffix);
    }

    public Path file() {
        return file;
    }

    Path indexFile() {
        return indexFile;
    }

    Path lockFile() {
        return lockFile;
    }

    /**
     * Appends one event and returns it with its {@code seq} and {@code ts} set.
     *
     * @param type    event type, for example {@code task.state}
     * @param taskId  the task it concerns, or null
     * @param data    event payload (never a secret)
     */
    public TaskEvent append(String type, String taskId, JsonObject data) {
        return appendAll(List.of(new Draft(type, taskId, data))).getFirst();
    }

    /** Appends events in order with one lock and one write to disk; returns them numbered. */
    public List<TaskEvent> appendAll(List<Draft> drafts) {
        if (drafts.isEmpty()) return List.of();
        try {
            return HostLock.withLock(lockFile, lock -> {
                try (FileChannel log = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                     FileChannel idx = FileChannel.open(indexFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    Tail tail = settle(log, idx);
                    long seq = tail.lastSeq();
                    String ts = clock.instant().toString();
                    ByteArrayOutputStream lines = new ByteArrayOutputStream();
                    List<EventIndex.Entry> entries = new ArrayList<>(drafts.size());
                    List<TaskEvent> out = new ArrayList<>(drafts.size());
                    for (Draft d : drafts) {
                        TaskEvent event = new TaskEvent(++seq, ts, d.type(), d.taskId(), d.data() == null ? new JsonObject() : d.data());
                        byte[] line = (event.toJson().encode() + "\n").getBytes(StandardCharsets.UTF_8);
                        entries.add(new EventIndex.Entry(seq, tail.end() + lines.size(), line.length, flagsOf(d.type())));
                        lines.write(line);
                        out.add(event);
                    }
                    ByteBuffer buf = ByteBuffer.wrap(lines.toByteArray());
                    long pos = tail.end();
                    while (buf.hasRemaining()) pos += log.write(buf, pos);
                    log.force(false); // the line is durable before any record points at it
                    EventIndex.write(idx, tail.records(), entries);
                    return out;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to event log " + file, e);
        }
    }

    /** Console lines and compaction markers may be compacted out; everything else is kept for good. */
    static int flagsOf(String type) {
        return EventTypes.TASK_LOG.equals(type) || EventTypes.LOG_COMPACTED.equals(type) ? 0 : EventIndex.FLAG_KEEP;
    }

    /** Events with a sequence number greater than {@code afterSeq}, oldest first, at most {@code limit}. */
    public List<TaskEvent> readAfter(long afterSeq, int limit) {
        List<TaskEvent> out = new ArrayList<>();
        boolean settled = false;
        boolean raced = false;
        for (int attempt = 0; attempt < 4 && out.size() < limit; attempt++) {
            long after = out.isEmpty() ? afterSeq : out.getLast().seq();
            // a second mismatch is not a race: that record is damaged, and is passed over
            Read read = readIndexed(after, limit - out.size(), raced);
            out.addAll(read.events());
            raced = read.raced();
            if (raced) continue; // the files were rewritten under us: look again
            if (out.size() >= limit || !read.unindexedTail() || settled) break;
            settle(); // complete lines the index misses: an appender died, or is between line and record
            settled = true;
        }
        return out;
    }

    /** The highest sequence number written so far (0 when empty). */
    public long lastSequence() {
        for (int attempt = 0; attempt < 2; attempt++) {
            try (FileChannel log = FileChannel.open(file, StandardOpenOption.READ);
                 FileChannel idx = FileChannel.open(indexFile, StandardOpenOption.READ)) {
                long n = EventIndex.count(idx);
                EventIndex.Entry last = n == 0 ? null : EventIndex.read(idx, n - 1);
                long end = last == null ? 0 : last.end();
                if (log.size() == end || attempt > 0) return last == null ? 0 : last.seq();
            } catch (NoSuchFileException e) {
                if (!Files.exists(file)) return 0;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read event log " + file, e);
            }
            settle();
        }
        return 0;
    }

    /**
     * The byte offset in {@link #file()} where the first event after {@code seq} starts (the end of
     * the indexed events when there is none yet; 0 without an index), so a reader of the raw lines
     * can start there instead of at the beginning.
     */
    public long offsetAfter(long seq) {
        try (FileChannel idx = FileChannel.open(indexFile, StandardOpenOption.READ)) {
            long n = EventIndex.count(idx);
            long i = EventIndex.firstAfter(idx, n, seq);
            if (i < n) return EventIndex.read(idx, i).offset();
            return n == 0 ? 0 : EventIndex.read(idx, n - 1).end();
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read event log index " + indexFile, e);
        }
    }

    /** Repairs the tail (see the class comment) without appending. */
    public void settle() {
        if (!Files.exists(file)) return;
        try {
            HostLock.withLock(lockFile, lock -> {
                try (FileChannel log = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
                     FileChannel idx = FileChannel.open(indexFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    return settle(log, idx);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot repair event log " + file, e);
        }
    }

    private record Read(List<TaskEvent> events, boolean raced, boolean unindexedTail) {}

    private Read readIndexed(long afterSeq, int limit, boolean skipDamaged) {
        List<TaskEvent> out = new ArrayList<>();
        try (FileChannel log = FileChannel.open(file, StandardOpenOption.READ)) {
            FileChannel idx;
            try {
                idx = FileChannel.open(indexFile, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                return new Read(out, false, log.size() > 0);
            }
            try (idx) {
                long logSize = log.size();
                long n = EventIndex.count(idx);
                long i = EventIndex.firstAfter(idx, n, afterSeq);
                while (i < n && out.size() < limit) {
                    EventIndex.Entry[] page = EventIndex.read(idx, i, (int) Math.min(n - i, Math.min(limit - out.size(), 1024)));
                    for (EventIndex.Entry e : page) {
                        TaskEvent event = e.end() <= logSize ? readLine(log, e) : null;
                        if (event != null && event.seq() == e.seq()) out.add(event);
                        else if (!skipDamaged) return new Read(out, true, false);
                    }
                    i += page.length;
                }
                long indexedEnd = n == 0 ? 0 : EventIndex.read(idx, n - 1).end();
                return new Read(out, false, i >= n && logSize > indexedEnd);
            }
        } catch (NoSuchFileException e) {
            return new Read(out, false, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read event log " + file, e);
        }
    }

    private static TaskEvent readLine(FileChannel log, EventIndex.Entry e) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(e.length());
        long pos = e.offset();
        while (buf.hasRemaining()) {
            int n = log.read(buf, pos);
            if (n < 0) return null;
            pos += n;
        }
        byte[] a = buf.array();
        if (a[a.length - 1] != '\n') return null;
        return parse(new String(a, 0, a.length - 1, StandardCharsets.UTF_8));
    }

    /** Where the next line goes, the last sequence number, and how many index records there are. */
    record Tail(long lastSeq, long end, long records) {}

    /** Brings the index in line with the log and cuts a torn last line. Call holding the lock. */
    static Tail settle(FileChannel log, FileChannel idx) throws IOException {
        long logSize = log.size();
        long n = EventIndex.count(idx);
        EventIndex.Entry last = null;
        while (n > 0) {
            EventIndex.Entry e = EventIndex.read(idx, n - 1);
            if (pointsAtLine(log, logSize, e)) {
                last = e;
                break;
            }
            n--; // written after a crash lost its line, or garbage: the log decides
        }
        if (idx.size() != n * EventIndex.RECORD) idx.truncate(n * EventIndex.RECORD);
        long lastSeq = last == null ? 0 : last.seq();
        long from = last == null ? 0 : last.end();
        if (logSize == from) return new Tail(lastSeq, logSize, n);

        List<EventIndex.Entry> found = new ArrayList<>();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(SCAN_CHUNK);
        long pos = from;
        long lineStart = from;
        while (pos < logSize) {
            buf.clear();
            int r = log.read(buf, pos);
            if (r <= 0) break;
            byte[] a = buf.array();
            int s = 0;
            for (int k = 0; k < r; k++) {
                if (a[k] != '\n') continue;
                line.write(a, s, k - s);
                TaskEvent event = parse(line.toString(StandardCharsets.UTF_8));
                int length = line.size() + 1;
                if (event != null && event.seq() > lastSeq) {
                    found.add(new EventIndex.Entry(event.seq(), lineStart, length, flagsOf(event.type())));
                    lastSeq = event.seq();
                }
                // a complete line that does not parse, or repeats a number, stays in the file unindexed
                line.reset();
                s = k + 1;
                lineStart += length;
            }
            line.write(a, s, r - s);
            pos += r;
        }
        if (lineStart < logSize) log.truncate(lineStart); // a torn line: its appender never returned
        EventIndex.write(idx, n, found);
        return new Tail(lastSeq, Math.min(lineStart, logSize), n + found.size());
    }

    /** The record's range is a whole line of the log starting with its sequence number. */
    private static boolean pointsAtLine(FileChannel log, long logSize, EventIndex.Entry e) throws IOException {
        if (e.seq() <= 0 || e.offset() < 0 || e.length() < 2 || e.end() > logSize) return false;
        byte[] prefix = ("{\"seq\":" + e.seq() + ",").getBytes(StandardCharsets.US_ASCII);
        if (prefix.length >= e.length()) return false;
        ByteBuffer head = ByteBuffer.allocate(prefix.length);
        log.read(head, e.offset());
        ByteBuffer lastByte = ByteBuffer.allocate(1);
        log.read(lastByte, e.end() - 1);
        return java.util.Arrays.equals(head.array(), prefix) && lastByte.get(0) == '\n';
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
