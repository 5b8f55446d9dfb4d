package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.GuestFile;
import dev.microvm.orchestrator.secrets.GuestOutputException;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.vm.GuestContract;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Paginated reads of a task's logs: the VM console (written by the hypervisor on the host) or the
 * agent's own output (written by the guest, so read only once the task has stopped running, never
 * through a link, never from anything but a regular file).
 */
public final class TaskLogs {

    public static final int DEFAULT_LIMIT = 64 * 1024;
    public static final int MAX_LIMIT = 512 * 1024;
    private static UnaryOperator<String> redactor = UnaryOperator.identity();

    private TaskLogs() {}

    /** Installed by the node so every log read is scrubbed of known secrets. */
    public static void setRedactor(UnaryOperator<String> r) {
        redactor = r == null ? UnaryOperator.identity() : r;
    }

    /**
     * @param req {stream: console|agent, offset?, tail?, limit?}; {@code tail} (bytes from the end)
     *            wins over {@code offset}
     */
    public static JsonObject read(StatePaths paths, TaskRecord record, JsonObject req) {
        String stream = req.getString("stream", "console");
        int limit = Math.min(MAX_LIMIT, Math.max(1, req.getInteger("limit", DEFAULT_LIMIT)));
        Integer tail = req.getInteger("tail");
        Position at = tail != null ? new Position(Math.max(0, tail), true) : new Position(Math.max(0, req.getLong("offset", 0L)), false);
        return switch (stream) {
            case "console" -> readConsole(paths, record, at, limit);
            case "agent" -> readAgent(paths, record, at, limit);
            default -> throw new IllegalArgumentException("stream must be 'console' or 'agent'");
        };
    }

    /** Where a page starts: bytes from the start, or (for {@code tail}) back from the end. */
    private record Position(long bytes, boolean fromEnd) {
        long start(long size) {
            return fromEnd ? Math.max(0, size - bytes) : Math.min(bytes, size);
        }
    }

    /** The console log is written by the hypervisor on the host. */
    private static JsonObject readConsole(StatePaths paths, TaskRecord record, Position at, int limit) {
        Path file = paths.taskConsoleLog(record.id());
        JsonObject out = header(record, "console", file);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return empty(out);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the console log of task " + record.id() + " is not a regular file; it is not read");
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            long size = ch.size();
            long start = at.start(size);
            ch.position(start);
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(limit, size - start));
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            return page(out, java.util.Arrays.copyOf(buf.array(), buf.position()), start, size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * The agent log lies in the guest-written io share: read through the guest-output rules (no
     * link anywhere on the path, a regular file, capped), and only once the VM has stopped.
     */
    private static JsonObject readAgent(StatePaths paths, TaskRecord record, Position at, int limit) {
        if (record.state() == TaskState.RUNNING || record.state() == TaskState.STARTING) {
            throw new IllegalArgumentException("the agent log is readable once the VM has stopped; use stream=console while the task runs");
        }
        Path io = paths.taskIo(record.id());
        JsonObject out = header(record, "agent", io.resolve(GuestContract.OUT_AGENT_LOG));
        if (!Files.isDirectory(io, LinkOption.NOFOLLOW_LINKS)) return empty(out);
        try {
            Optional<GuestFile> file = new GuestOutputReader(io, MAX_LIMIT).readRangeIfPresent(GuestContract.OUT_AGENT_LOG, at.bytes(), at.fromEnd(), limit);
            if (file.isEmpty()) return empty(out);
            GuestFile f = file.get();
            return page(out, f.content(), at.start(f.size()), f.size());
        } catch (GuestOutputException e) {
            throw new IllegalArgumentException("the agent log of task " + record.id() + " is refused: " + e.getMessage()
                    + " (the guest changed its output directory; nothing outside the task is read)");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the agent log of task " + record.id(), e);
        }
    }

    private static JsonObject header(TaskRecord record, String stream, Path file) {
        return new JsonObject().put("task_id", record.id()).put("stream", stream).put("log_path", file.toString())
                .put("status", record.state().wireName());
    }

    private static JsonObject empty(JsonObject out) {
        return out.put("content", "").put("offset", 0).put("next_offset", 0).put("size", 0).put("eof", true);
    }

    private static JsonObject page(JsonObject out, byte[] bytes, long start, long size) throws java.nio.charset.CharacterCodingException {
        String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(ByteBuffer.wrap(bytes)).toString();
        long next = start + bytes.length;
        return out.put("content", redactor.apply(text)).put("offset", start).put("next_offset", next)
                .put("size", size).put("eof", next >= size);
    }
}
