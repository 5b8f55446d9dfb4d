package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
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
        Path file = switch (stream) {
            case "console" -> paths.taskConsoleLog(record.id());
            case "agent" -> {
                if (record.state() == TaskState.RUNNING || record.state() == TaskState.STARTING) {
                    throw new IllegalArgumentException("the agent log is readable once the VM has stopped; use stream=console while the task runs");
                }
                yield paths.taskIo(record.id()).resolve("out").resolve("agent.log");
            }
            default -> throw new IllegalArgumentException("stream must be 'console' or 'agent'");
        };
        int limit = Math.min(MAX_LIMIT, Math.max(1, req.getInteger("limit", DEFAULT_LIMIT)));
        JsonObject out = new JsonObject().put("task_id", record.id()).put("stream", stream).put("log_path", file.toString())
                .put("status", record.state().wireName());
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return out.put("content", "").put("offset", 0).put("next_offset", 0).put("size", 0).put("eof", true);
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the " + stream + " log of task " + record.id() + " is not a regular file; it is not read");
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            long size = ch.size();
            long offset;
            Integer tail = req.getInteger("tail");
            if (tail != null) offset = Math.max(0, size - Math.max(0, tail));
            else offset = Math.max(0, Math.min(size, req.getLong("offset", 0L)));
            ch.position(offset);
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(limit, size - offset));
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(buf.flip()).toString();
            long next = offset + buf.limit();
            return out.put("content", redactor.apply(text)).put("offset", offset).put("next_offset", next)
                    .put("size", size).put("eof", next >= size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
