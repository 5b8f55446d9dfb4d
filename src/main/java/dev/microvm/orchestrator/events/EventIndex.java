package dev.microvm.orchestrator.events;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;

/**
 * The sequence-number index of the event log ({@code events.idx}): one fixed-size record per
 * event, in log order, naming the byte range of its line. Sequence numbers increase strictly from
 * record to record, so the first event after N is found by binary search and a read costs what it
 * returns, not the size of the log.
 *
 * <p>The log is the source of truth: a record is written only after its line is on disk, and a
 * record that does not point at a complete line of that sequence number is dropped on repair.
 */
final class EventIndex {

    /** seq (8) + offset (8) + length (4) + flags (4). */
    static final int RECORD = 24;
    /** The event is a state transition or outcome: retention never drops it. */
    static final int FLAG_KEEP = 1;

    record Entry(long seq, long offset, int length, int flags) {
        long end() {
            return offset + length;
        }

        boolean keep() {
            return (flags & FLAG_KEEP) != 0;
        }
    }

    private EventIndex() {}

    /** Complete records in the index; a record torn by a crash does not count. */
    static long count(FileChannel idx) throws IOException {
        return idx.size() / RECORD;
    }

    static Entry read(FileChannel idx, long i) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(RECORD);
        readFully(idx, buf, i * RECORD);
        buf.flip();
        return new Entry(buf.getLong(), buf.getLong(), buf.getInt(), buf.getInt());
    }

    /** Records {@code from} .. {@code from + n - 1}, read in one go. */
    static Entry[] read(FileChannel idx, long from, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n * RECORD);
        readFully(idx, buf, from * RECORD);
        buf.flip();
        Entry[] out = new Entry[buf.remaining() / RECORD];
        for (int k = 0; k < out.length; k++) out[k] = new Entry(buf.getLong(), buf.getLong(), buf.getInt(), buf.getInt());
        return out;
    }

    /** The position of the first record among the first {@code count} whose sequence number is greater than {@code seq}. */
    static long firstAfter(FileChannel idx, long count, long seq) throws IOException {
        long lo = 0;
        long hi = count;
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            if (read(idx, mid).seq() <= seq) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /** Writes {@code entries} as records {@code at}, {@code at + 1}, ... */
    static void write(FileChannel idx, long at, List<Entry> entries) throws IOException {
        if (entries.isEmpty()) return;
        ByteBuffer buf = ByteBuffer.allocate(entries.size() * RECORD);
        for (Entry e : entries) buf.putLong(e.seq()).putLong(e.offset()).putInt(e.length()).putInt(e.flags());
        buf.flip();
        long pos = at * RECORD;
        while (buf.hasRemaining()) pos += idx.write(buf, pos);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) break;
            pos += n;
        }
    }
}
