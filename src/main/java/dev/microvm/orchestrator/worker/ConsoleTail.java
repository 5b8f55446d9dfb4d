package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.StatePaths;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Reads a task's console log slice by slice, and the agent's progress from the stream-json lines in it. */
final class ConsoleTail {

    private static final int MAX_LOG_SLICE = 64 * 1024;

    private final StatePaths paths;
    private final Map<String, StreamJsonProgress> progress = new ConcurrentHashMap<>();

    ConsoleTail(StatePaths paths) {
        this.paths = paths;
    }

    /**
     * Puts the console lines after {@code offset} into {@code out}, at most one slice; {@code log_more}
     * says there is more to read. Once the VM has {@code ended}, an unfinished last line counts as complete.
     */
    void read(String id, long offset, JsonObject out, boolean ended) {
        Path log = paths.taskConsoleLog(id);
        out.put("log_offset", offset);
        if (!Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS)) return;
        try (var ch = Files.newByteChannel(log)) {
            long size = ch.size();
            if (size <= offset) return;
            ch.position(offset);
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(MAX_LOG_SLICE, size - offset));
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            ConsoleSlice.Result slice = ConsoleSlice.of(buf.array(), buf.position(), buf.position() == MAX_LOG_SLICE, ended);
            if (slice.consumed() == 0) return; // wait for the line to complete
            JsonObject latest = null;
            StreamJsonProgress parser = progress.computeIfAbsent(id, k -> new StreamJsonProgress());
            for (String line : slice.completeLines()) {
                // the runner copies the agent's stream-json output to the console
                int json = line.indexOf('{');
                if (json >= 0) latest = parser.accept(line.substring(json)).orElse(latest);
            }
            out.put("log_offset", offset + slice.consumed()).put("log_lines", slice.lines())
                    .put("log_more", offset + slice.consumed() < size);
            if (!slice.continues().isEmpty()) out.put("log_continues", slice.continues());
            slice.skippedBytes().ifPresent(n -> out.put("output_skipped", n));
            if (latest != null) out.put("progress", latest);
        } catch (IOException e) {
            // the console is informational; a read problem never fails the task
        }
    }

    void forget(String id) {
        progress.remove(id);
    }
}
