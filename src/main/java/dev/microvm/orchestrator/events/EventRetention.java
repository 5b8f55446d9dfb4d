package dev.microvm.orchestrator.events;

import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;
import io.vertx.core.json.JsonObject;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps the event log from growing forever: console lines ({@code task.log} events) older than
 * the configured days, or beyond the configured bytes (oldest first), are compacted out. State
 * changes, outcomes and every other event are kept. The console lines stay in each task's own log
 * files, where {@code get_task_logs} reads them.
 *
 * <p>Where lines were dropped, one {@link EventTypes#LOG_COMPACTED} event takes the sequence number
 * of the last dropped one, so a reader resuming anywhere in the compacted range gets the kept
 * events and then that marker, and sequence numbers stay unique and increasing. An earlier marker
 * is dropped when a later one covers it.
 *
 * <p>The rewrite copies the log without holding the appenders' lock, then takes the lock only to
 * copy what was appended meanwhile and to rename the new files into place, so appends wait for a
 * short tail, not for the whole log. One compaction at a time per host ({@code events.compact.lock}).
 * Blocking: worker threads only.
 */
public final class EventRetention {

    /** What one run did. */
    public record Result(long droppedEvents, long droppedBytes, long markerSeq) {
        static final Result NOTHING = new Result(0, 0, 0);
    }

    private final EventLog log;
    private final Clock clock;
    private final Duration maxAge;
    private final long maxLogLineBytes;

    /**
     * @param maxAge          console lines older than this are dropped; null or zero: no age limit
     * @param maxLogLineBytes console lines beyond this many bytes are dropped, oldest first; 0: no limit
     */
    public EventRetention(EventLog log, Clock clock, Duration maxAge, long maxLogLineBytes) {
        this.log = log;
        this.clock = clock;
        this.maxAge = maxAge == null || maxAge.isZero() ? null : maxAge;
        this.maxLogLineBytes = maxLogLineBytes;
    }

    public boolean enabled() {
        return maxAge != null || maxLogLineBytes > 0;
    }

    /** Compacts when something is due; cheap when nothing is (one pass over the index). */
    public Result run() {
        if (!enabled() || !Files.exists(log.file()) || !Files.exists(log.indexFile())) return Result.NOTHING;
        try (FileChannel guard = HostLock.tryHold(log.file().resolveSibling("events.compact.lock"))) {
            if (guard == null) return Result.NOTHING; // another process is compacting
            return compact();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compact event log " + log.file(), e);
        }
    }

    private Result compact() throws IOException {
        Path tmpLog = log.file().resolveSibling("events.jsonl.compacting");
        Path tmpIdx = log.file().resolveSibling("events.idx.compacting");
        long copied;
        Plan plan;
        try (FileChannel src = FileChannel.open(log.file(), StandardOpenOption.READ);
             FileChannel idx = FileChannel.open(log.indexFile(), StandardOpenOption.READ)) {
            long n = EventIndex.count(idx);
            plan = plan(src, idx, n);
            if (plan.drop().length == 0) return Result.NOTHING;
            try (Writer out = new Writer(tmpLog, tmpIdx)) {
                copy(src, idx, 0, n, plan, out);
                copied = n;
                // the appenders wait only for what they added meanwhile, and the renames
                return HostLock.withLock(log.lockFile(), lock -> {
                    try (FileChannel liveLog = FileChannel.open(log.file(), StandardOpenOption.READ, StandardOpenOption.WRITE);
                         FileChannel liveIdx = FileChannel.open(log.indexFile(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                        EventLog.Tail tail = EventLog.settle(liveLog, liveIdx);
                        copy(liveLog, liveIdx, copied, tail.records(), Plan.KEEP_ALL, out);
                        out.finish();
                    }
                    // log first, then index: a reader between the two sees lines its records do not match and reads again
                    AtomicFiles.move(tmpLog, log.file(), true);
                    AtomicFiles.move(tmpIdx, log.indexFile(), true);
                    return new Result(plan.dropCount(), plan.dropBytes(), plan.markerSeq());
                });
            }
        } finally {
            Files.deleteIfExists(tmpLog);
            Files.deleteIfExists(tmpIdx);
        }
    }

    /** Which of the first {@code n} records go, and where the marker goes. */
    private record Plan(boolean[] drop, long dropCount, long dropBytes, long markerSeq) {
        static final Plan KEEP_ALL = new Plan(new boolean[0], 0, 0, 0);

        boolean drops(long i) {
            return i < drop.length && drop[(int) i];
        }
    }

    private Plan plan(FileChannel src, FileChannel idx, long n) throws IOException {
        if (n > Integer.MAX_VALUE - 8) throw new IOException("event log index too large to compact in one pass");
        EventIndex.Entry[] entries = EventIndex.read(idx, 0, (int) n);
        long lineBytes = 0;
        for (EventIndex.Entry e : entries) if (droppable(e)) lineBytes += e.length();
        Instant cutoff = maxAge == null ? null : clock.instant().minus(maxAge);
        boolean olderOnesLeft = cutoff != null; // lines are in time order: after the first young one, all are young
        boolean[] drop = new boolean[entries.length];
        long count = 0;
        long bytes = 0;
        long markerSeq = 0;
        boolean onlyMarkers = true;
        for (int i = 0; i < entries.length; i++) {
            EventIndex.Entry e = entries[i];
            if (!droppable(e)) continue;
            boolean tooMany = maxLogLineBytes > 0 && lineBytes - bytes > maxLogLineBytes;
            boolean tooOld = false;
            if (olderOnesLeft) {
                tooOld = timeOf(src, e).map(t -> t.isBefore(cutoff)).orElse(false);
                olderOnesLeft = tooOld;
            }
            if (!tooMany && !tooOld) break; // within the byte limit, and the rest is younger

            drop[i] = true;
            count++;
            bytes += e.length();
            markerSeq = e.seq();
            if (onlyMarkers && !isMarker(src, e)) onlyMarkers = false;
        }
        if (count == 0 || onlyMarkers) return new Plan(new boolean[0], 0, 0, 0); // nothing new to compact
        return new Plan(drop, count, bytes, markerSeq);
    }

    /** Console lines and earlier compaction markers; never a state change or an outcome. */
    private static boolean droppable(EventIndex.Entry e) {
        return !e.keep();
    }

    private static boolean isMarker(FileChannel src, EventIndex.Entry e) throws IOException {
        return head(src, e).contains("\"type\":\"" + EventTypes.LOG_COMPACTED + "\"");
    }

    private static java.util.Optional<Instant> timeOf(FileChannel src, EventIndex.Entry e) throws IOException {
        String head = head(src, e);
        int i = head.indexOf("\"ts\":\"");
        if (i < 0) return java.util.Optional.empty();
        int end = head.indexOf('"', i + 6);
        if (end < 0) return java.util.Optional.empty();
        try {
            return java.util.Optional.of(Instant.parse(head.substring(i + 6, end)));
        } catch (RuntimeException bad) {
            return java.util.Optional.empty();
        }
    }

    /** The line's first bytes: seq, ts and type come first in every line the log writes. */
    private static String head(FileChannel src, EventIndex.Entry e) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(Math.min(e.length(), 160));
        src.read(buf, e.offset());
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }

    private void copy(FileChannel src, FileChannel idx, long from, long to, Plan plan, Writer out) throws IOException {
        for (long i = from; i < to; ) {
            EventIndex.Entry[] page = EventIndex.read(idx, i, (int) Math.min(4096, to - i));
            for (EventIndex.Entry e : page) {
                if (plan.drops(i)) {
                    if (e.seq() == plan.markerSeq()) out.add(marker(plan), EventLog.flagsOf(EventTypes.LOG_COMPACTED));
                } else {
                    ByteBuffer line = ByteBuffer.allocate(e.length());
                    long pos = e.offset();
                    while (line.hasRemaining()) {
                        int r = src.read(line, pos);
                        if (r < 0) throw new IOException("event log shorter than its index at seq " + e.seq());
                        pos += r;
                    }
                    out.add(e.seq(), line.array(), e.flags());
                }
                i++;
            }
        }
    }

    private TaskEvent marker(Plan plan) {
        return new TaskEvent(plan.markerSeq(), clock.instant().toString(), EventTypes.LOG_COMPACTED, null, new JsonObject()
                .put("through_seq", plan.markerSeq()).put("dropped_events", plan.dropCount()).put("dropped_bytes", plan.dropBytes())
                .put("message", "console lines (task.log events) up to seq " + plan.markerSeq()
                        + " were compacted out of the event log; get_task_logs still has every line of every task"));
    }

    /** The new log and index, written side by side. */
    private static final class Writer implements AutoCloseable {
        private final FileChannel logChannel;
        private final OutputStream logOut;
        private final FileChannel idxChannel;
        private final List<EventIndex.Entry> pending = new ArrayList<>();
        private long offset;
        private long records;

        Writer(Path logFile, Path idxFile) throws IOException {
            logChannel = FileChannel.open(logFile, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            logOut = new BufferedOutputStream(java.nio.channels.Channels.newOutputStream(logChannel), 1 << 20);
            idxChannel = FileChannel.open(idxFile, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
        }

        void add(TaskEvent event, int flags) throws IOException {
            add(event.seq(), (event.toJson().encode() + "\n").getBytes(StandardCharsets.UTF_8), flags);
        }

        void add(long seq, byte[] line, int flags) throws IOException {
            logOut.write(line);
            pending.add(new EventIndex.Entry(seq, offset, line.length, flags));
            offset += line.length;
            if (pending.size() == 4096) flushIndex();
        }

        private void flushIndex() throws IOException {
            EventIndex.write(idxChannel, records, pending);
            records += pending.size();
            pending.clear();
        }

        /** Everything on disk before the rename. */
        void finish() throws IOException {
            logOut.flush();
            logChannel.force(true);
            flushIndex();
            idxChannel.force(true);
        }

        @Override
        public void close() throws IOException {
            try (logChannel; idxChannel) {
                logOut.close();
            }
        }
    }
}
