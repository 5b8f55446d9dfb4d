package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.HostLock;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Host-wide slot ownership. A slot is in use while some process holds the OS lock on
 * {@code slots/<n>/slot.lock}. The lock dies with its process, so {@code slots/<n>/claim.json}
 * additionally names the task using the slot: after a crash the slot stays reserved for that task
 * (its VM may still be running on the slot's disk) until the task is recovered and finishes.
 *
 * <p>Blocking and not thread-safe: the allocator calls it from one worker context at a time.
 */
public final class SlotLocks {

    private final StatePaths paths;
    private final Predicate<String> taskUnfinished;
    private final Map<Integer, Held> held = new HashMap<>();

    /** @param taskUnfinished true when the named task exists and is not in a terminal state */
    public SlotLocks(StatePaths paths, Predicate<String> taskUnfinished) {
        this.paths = paths;
        this.taskUnfinished = taskUnfinished;
    }

    private record Held(String taskId, FileChannel channel) {}

    /** Takes slot {@code n} for {@code taskId} if no process holds it and no unfinished task claims it. */
    public boolean tryAcquire(int n, String taskId) {
        if (held.containsKey(n)) return false;
        Path dir = paths.slotDir(n);
        FileChannel ch = null;
        try {
            ch = HostLock.tryHold(dir.resolve("slot.lock"));
            if (ch == null) return false;
            Optional<String> claimant = claimant(n);
            if (claimant.isPresent() && !claimant.get().equals(taskId) && taskUnfinished.test(claimant.get())) {
                ch.close();
                return false;
            }
            AtomicFiles.write(dir.resolve("claim.json"), new JsonObject().put("task_id", taskId)
                    .put("pid", ProcessHandle.current().pid()).encode());
            held.put(n, new Held(taskId, ch));
            return true;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("cannot lock slot " + n, e);
        }
    }

    /** Releases slot {@code n} if {@code taskId} holds it here. True exactly once per acquisition. */
    public boolean release(int n, String taskId) {
        Held h = held.get(n);
        if (h == null || !h.taskId().equals(taskId)) return false;
        held.remove(n);
        try {
            Files.deleteIfExists(paths.slotDir(n).resolve("claim.json"));
        } catch (IOException ignored) {
            // a stale claim is harmless: the claimant is terminal, so the slot counts as free
        } finally {
            closeQuietly(h.channel()); // closing the channel releases the lock
        }
        return true;
    }

    /** The task named in the slot's claim file, if any (regardless of who holds the lock). */
    public Optional<String> claimant(int n) {
        Path claim = paths.slotDir(n).resolve("claim.json");
        try {
            if (!Files.isRegularFile(claim)) return Optional.empty();
            return Optional.ofNullable(new JsonObject(Files.readString(claim)).getString("task_id"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // a torn claim never blocks a slot forever
        }
    }

    public Map<Integer, String> heldByThisProcess() {
        Map<Integer, String> out = new HashMap<>();
        held.forEach((n, h) -> out.put(n, h.taskId()));
        return out;
    }

    public void releaseAll() {
        for (var e : Map.copyOf(held).entrySet()) {
            Held h = e.getValue();
            held.remove(e.getKey());
            closeQuietly(h.channel()); // keep claim.json: unfinished tasks are recovered later
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
