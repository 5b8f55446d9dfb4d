package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.eclipse.jgit.lib.Repository;

/**
 * Serializes ref-changing operations on one repository: an in-process lock (a JVM may hold a
 * file lock only once) plus an OS file lock, so two orchestrator processes cannot interleave.
 */
final class RepoLock implements AutoCloseable {
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

    private final ReentrantLock threadLock;
    private final FileChannel channel;
    private final FileLock fileLock;

    private RepoLock(ReentrantLock threadLock, FileChannel channel, FileLock fileLock) {
        this.threadLock = threadLock;
        this.channel = channel;
        this.fileLock = fileLock;
    }

    static RepoLock acquire(Repository repo) throws IOException {
        Path common = repo.getCommonDirectory().toPath().toAbsolutePath().normalize();
        ReentrantLock lock = LOCKS.computeIfAbsent(common, p -> new ReentrantLock());
        lock.lock();
        FileChannel channel = null;
        try {
            channel = FileChannel.open(common.resolve("microvm-merge.lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            return new RepoLock(lock, channel, channel.lock());
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            lock.unlock();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            fileLock.release();
            channel.close();
        } finally {
            threadLock.unlock();
        }
    }
}
