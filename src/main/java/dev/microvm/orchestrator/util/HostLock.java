package dev.microvm.orchestrator.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one host-wide lock: mutual exclusion across every thread of every process on this host,
 * keyed by a lock file (created with its directory if missing). The OS lock dies with its process.
 *
 * <p>Two forms. Blocking, for a critical section run by one thread: {@link #withLock} and
 * {@link #acquire}. An OS file lock alone is not enough there: the JVM refuses a second lock on
 * the same file from another thread ({@code OverlappingFileLockException}), so threads queue on an
 * in-process lock first. Non-blocking and held for as long as the caller likes, released by
 * whichever thread closes it (a task's slot, its ownership): {@link #tryHold}, where another thread
 * of this process holding the file counts as held.
 */
public final class HostLock {

    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL = new ConcurrentHashMap<>();

    private HostLock() {}

    public interface Body<T> {
        T run(FileChannel channel) throws IOException;
    }

    /** A blocking lock taken by {@link #acquire}; close it on the thread that took it. */
    public static final class Held implements AutoCloseable {
        private final ReentrantLock local;
        private final FileChannel channel;

        private Held(ReentrantLock local, FileChannel channel) {
            this.local = local;
            this.channel = channel;
        }

        public FileChannel channel() {
            return channel;
        }

        @Override
        public void close() throws IOException {
            try {
                channel.close(); // releases the OS lock
            } finally {
                local.unlock();
            }
        }
    }

    /** Runs {@code body} holding the host-wide lock on {@code lockFile}. */
    public static <T> T withLock(Path lockFile, Body<T> body) throws IOException {
        try (Held held = acquire(lockFile)) {
            return body.run(held.channel());
        }
    }

    /** Waits for the host-wide lock on {@code lockFile}; the caller closes it (same thread). */
    public static Held acquire(Path lockFile) throws IOException {
        Path key = lockFile.toAbsolutePath().normalize();
        ReentrantLock local = LOCAL.computeIfAbsent(key, k -> new ReentrantLock());
        local.lock();
        FileChannel ch = null;
        try {
            ch = open(key);
            ch.lock();
            return new Held(local, ch);
        } catch (IOException | RuntimeException e) {
            if (ch != null) ch.close();
            local.unlock();
            throw e;
        }
    }

    /**
     * Tries to take the OS lock on {@code lockFile} and keep it. Returns the open channel holding
     * the lock — closing it (from any thread) releases the lock, as does the end of the process —
     * or null when another process or thread holds it.
     */
    public static FileChannel tryHold(Path lockFile) throws IOException {
        FileChannel ch = open(lockFile.toAbsolutePath().normalize());
        try {
            if (ch.tryLock() != null) return ch;
        } catch (OverlappingFileLockException e) {
            // held by another thread of this process
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        ch.close();
        return null;
    }

    private static FileChannel open(Path lockFile) throws IOException {
        Files.createDirectories(lockFile.getParent());
        return FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }
}
