package dev.microvm.orchestrator.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Mutual exclusion across every thread of every process on this host, keyed by a lock file.
 * An OS file lock alone is not enough: the JVM refuses a second lock on the same file from another
 * thread ({@code OverlappingFileLockException}), so threads queue on an in-process lock first.
 */
public final class HostLock {

    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL = new ConcurrentHashMap<>();

    private HostLock() {}

    public interface Body<T> {
        T run(FileChannel channel) throws IOException;
    }

    /** Runs {@code body} holding the host-wide lock on {@code lockFile} (created if missing). */
    public static <T> T withLock(Path lockFile, Body<T> body) throws IOException {
        Path key = lockFile.toAbsolutePath().normalize();
        ReentrantLock local = LOCAL.computeIfAbsent(key, k -> new ReentrantLock());
        local.lock();
        try {
            Files.createDirectories(key.getParent());
            try (FileChannel ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                return body.run(ch);
            }
        } finally {
            local.unlock();
        }
    }

    /**
     * Tries to take the OS lock on {@code lockFile} (created with its directory if missing) and
     * keep it. Returns the open channel holding the lock — closing it releases the lock, as does
     * the end of the process — or null when another process or thread holds it.
     */
    public static java.nio.channels.FileChannel tryHold(Path lockFile) throws IOException {
        Files.createDirectories(lockFile.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (ch.tryLock() != null) return ch;
        } catch (java.nio.channels.OverlappingFileLockException e) {
            // held by another thread of this process
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        ch.close();
        return null;
    }
}
