package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;

import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

/**
 * Durable delivery cursors for wait_next_event, one small file per caller under
 * {@code mcp/cursors/}: the sequence number of the last event handed to that caller. Written
 * atomically (temp file, fsync, rename) so a crash leaves either the old or the new cursor.
 *
 * <p>Blocking: worker threads only.
 */
final class CursorStore {

    private final StatePaths paths;
    private final Clock clock;

    CursorStore(StatePaths paths, Clock clock) {
        this.paths = paths;
        this.clock = clock;
    }

    /** The caller's cursor, or -1 when it has none yet. */
    long read(String caller) {
        Path file = paths.cursorFile(caller);
        if (!Files.exists(file)) return -1;
        try {
            return new JsonObject(Files.readString(file)).getLong("seq", 0L);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read delivery cursor " + file, e);
        } catch (RuntimeException e) {
            return -1; // unreadable: treated as missing, the caller re-initialises it
        }
    }

    /** Existing cursor, or a new one at {@code startSeq} when the caller is new. */
    long readOrCreate(String caller, long startSeq) {
        long seq = read(caller);
        if (seq >= 0) return seq;
        write(caller, startSeq);
        return startSeq;
    }

    /**
     * Moves the cursor to {@code seq} if it is still behind it and {@code claim} agrees, under an
     * OS file lock: two server processes of one session (an old one still exiting while its
     * replacement starts) can never hand out the same event twice.
     *
     * @return false when the event was already delivered or the claim was refused
     */
    boolean advance(String caller, long seq, java.util.function.BooleanSupplier claim) {
        Path file = paths.cursorFile(caller);
        Path lock = file.resolveSibling(file.getFileName() + ".lock");
        try {
            return HostLock.withLock(lock, ch -> {
                if (read(caller) >= seq) return false;
                if (!claim.getAsBoolean()) return false;
                write(caller, seq);
                return true;
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock delivery cursor " + lock, e);
        }
    }

    void write(String caller, long seq) {
        Path file = paths.cursorFile(caller);
        JsonObject body = new JsonObject().put("caller", caller).put("seq", seq).put("updated", clock.instant().toString());
        try {
            AtomicFiles.write(file, body.encode() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write delivery cursor " + file, e);
        }
    }
}
