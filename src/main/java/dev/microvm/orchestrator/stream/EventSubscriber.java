package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.events.TaskEvent;
import io.vertx.core.Future;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * One WebSocket client of the event stream. Runs on the stream verticle's event loop only.
 *
 * <p>Life of a client: it registers for live events first, then catches up from the durable log
 * (pages read on a worker thread) while live events wait in {@code pending}; when the log is read
 * to its end it switches to live, skipping pending events the log already gave it. Nothing is
 * lost in between: an event is appended to the log before it is published, so it is either in the
 * log when the last page is read, or published after this client registered.
 *
 * <p>Events wait in a bounded queue and are written in batches as long as the socket accepts more.
 * A client that cannot keep up fills its queue; it is then sent
 * {@code {"type":"overrun","resume_from":N}} and closed, so it costs others nothing and can
 * reconnect with {@code since=N} without losing an event.
 *
 * <p>Frames sent: {@code {"type":"events","events":[...]}}, {@code {"type":"live","seq":N}} once
 * caught up (N: the last sequence number the log had; later events arrive live),
 * {@code {"type":"overrun","resume_from":N}}, {@code {"type":"error","message":...}}.
 */
final class EventSubscriber {

    /** One event (or control frame) ready to write; {@code json} is shared between all clients. */
    record Item(long seq, String type, String taskId, String json, boolean control) {
        static Item event(long seq, String type, String taskId, String json) {
            return new Item(seq, type, taskId, json, false);
        }
    }

    /** Reads one page of the durable log on a worker thread. */
    interface LogPageReader {
        Future<List<TaskEvent>> read(long afterSeq, int limit);
    }

    private static final int MAX_PAGE = 1000;
    private static final int MAX_FRAME_CHARS = 256 * 1024;
    static final short CLOSE_OVERRUN = 4001;

    private final ServerWebSocket ws;
    private final EventFilter filter;
    private final int maxQueued;
    private final int maxBatch;
    private final LogPageReader logReader;
    private final int pageSize;
    private final Supplier<Future<Long>> logHead;
    private final Runnable onClosed;

    private final ArrayDeque<Item> queue = new ArrayDeque<>();
    private ArrayDeque<Item> pending = new ArrayDeque<>();
    private boolean live;
    private boolean closed;
    private boolean reading;
    /** Highest sequence number taken from the log during catch-up. */
    private long cursor;
    private final Long since;

    EventSubscriber(ServerWebSocket ws, EventFilter filter, Long since, int maxQueued, int maxBatch,
                    LogPageReader logReader, Supplier<Future<Long>> logHead, Runnable onClosed) {
        this.ws = ws;
        this.filter = filter;
        this.since = since;
        this.maxQueued = maxQueued;
        this.maxBatch = maxBatch;
        this.logReader = logReader;
        // catch-up pages leave room in the queue for live events arriving meanwhile
        this.pageSize = Math.max(1, Math.min(MAX_PAGE, maxQueued / 2));
        this.logHead = logHead;
        this.onClosed = onClosed;
        ws.setWriteQueueMaxSize(512 * 1024);
        ws.drainHandler(v -> flush());
        ws.closeHandler(v -> markClosed());
        ws.exceptionHandler(e -> markClosed());
    }

    /** Starts catching up; call after the client is registered for live events. */
    void start() {
        if (since == null) {
            reading = true;
            logHead.get().onComplete(ar -> {
                reading = false;
                if (ar.failed()) fail("cannot read the event log: " + ar.cause().getMessage());
                else {
                    cursor = ar.result();
                    goLive();
                }
            });
        } else {
            cursor = since;
            readNextPage();
        }
    }

    /** A live event; returns true when this client now has something to write. */
    boolean offer(Item item) {
        if (closed || !filter.matches(item.type(), item.taskId())) return false;
        // An event is logged before it is published: its publication can arrive after catch-up
        // already read it from the log. Everything up to the catch-up cursor was sent from there.
        if (live && item.seq() <= cursor) return false;
        if (!live) {
            pending.add(item);
        } else {
            queue.add(item);
        }
        if (queue.size() + (pending == null ? 0 : pending.size()) > maxQueued) {
            overrun(item);
            return false;
        }
        return live;
    }

    /** Writes queued events, several per frame, until the socket's own buffer is full. */
    void flush() {
        flush(null);
    }

    /** As {@link #flush()}, sharing frame texts with other clients of the same flush round. */
    void flush(FrameCache shared) {
        if (closed) return;
        while (!queue.isEmpty() && !ws.writeQueueFull()) {
            if (queue.peek().control()) {
                ws.writeTextMessage(queue.poll().json());
                continue;
            }
            List<Item> batch = new ArrayList<>(Math.min(queue.size(), maxBatch));
            int chars = 0;
            for (Item i : queue) {
                if (i.control() || batch.size() >= maxBatch || chars >= MAX_FRAME_CHARS) break;
                batch.add(i);
                chars += i.json().length();
            }
            for (int k = 0; k < batch.size(); k++) queue.poll();
            ws.writeTextMessage(shared == null ? FrameCache.build(batch) : shared.frame(filter, batch));
        }
        if (!live && !reading && queue.isEmpty()) readNextPage();
    }

    void close() {
        if (!closed) {
            markClosed();
            ws.close();
        }
    }

    private void readNextPage() {
        reading = true;
        logReader.read(cursor, pageSize).onComplete(ar -> {
            reading = false;
            if (closed) return;
            if (ar.failed()) {
                fail("cannot read the event log: " + ar.cause().getMessage());
                return;
            }
            List<TaskEvent> page = ar.result();
            for (TaskEvent e : page) {
                if (e.seq() <= cursor) continue;
                cursor = e.seq();
                if (filter.matches(e.type(), e.taskId())) queue.add(Item.event(e.seq(), e.type(), e.taskId(), e.toJson().encode()));
            }
            if (page.size() < pageSize) goLive();
            flush();
        });
    }

    private void goLive() {
        if (closed) return;
        live = true;
        queue.add(new Item(cursor, "live", null, new JsonObject().put("type", "live").put("seq", cursor).encode(), true));
        for (Item p : pending) {
            if (p.seq() > cursor) queue.add(p); // the log already gave us the others
        }
        pending = null;
        flush();
    }

    private void overrun(Item offered) {
        long resumeFrom;
        Item oldestUnsent = queue.stream().filter(i -> !i.control()).findFirst().orElse(null);
        if (!live) {
            resumeFrom = oldestUnsent != null ? oldestUnsent.seq() - 1 : cursor;
        } else {
            resumeFrom = (oldestUnsent != null ? oldestUnsent.seq() : offered.seq()) - 1;
        }
        queue.clear();
        pending = null;
        ws.writeTextMessage(new JsonObject().put("type", "overrun").put("resume_from", resumeFrom)
                .put("message", "client too slow: reconnect with since=" + resumeFrom).encode());
        markClosed();
        ws.close(CLOSE_OVERRUN, "overrun");
    }

    private void fail(String message) {
        if (closed) return;
        ws.writeTextMessage(new JsonObject().put("type", "error").put("message", message).encode());
        close();
    }

    private void markClosed() {
        if (closed) return;
        closed = true;
        queue.clear();
        pending = null;
        onClosed.run();
    }
}
