package dev.microvm.orchestrator.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The one way to replace a file crash-safely: write a temp file in the same directory, fsync it,
 * rename it over the target, fsync the directory. A reader sees the old content or the new, never a
 * torn file, and after a crash the new content is there or the old one, never an empty file.
 */
public final class AtomicFiles {

    private AtomicFiles() {}

    public static void write(Path target, String content) throws IOException {
        write(target, content.getBytes(StandardCharsets.UTF_8), null);
    }

    /**
     * Like {@link #write(Path, String)}, with the given POSIX permissions (e.g. "rw-------"), set
     * before any byte is written. A symbolic link at {@code target} is replaced, never written through.
     */
    public static void write(Path target, byte[] content, String posixPermissions) throws IOException {
        Path tmp = durableTemp(target, content, posixPermissions);
        try {
            rename(tmp, target, true);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Creates {@code target} with {@code content} unless it exists; never replaces a file another
     * process created first (a hard link does not replace). True when this call created it.
     */
    public static boolean createIfAbsent(Path target, byte[] content, String posixPermissions) throws IOException {
        Path tmp = durableTemp(target, content, posixPermissions);
        try {
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException lostRace) {
                return false;
            } catch (UnsupportedOperationException | IOException noHardLinks) {
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) return false;
                rename(tmp, target, false);
            }
            fsyncDirectory(target.toAbsolutePath().getParent());
            return true;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Moves an already written file to {@code target} in the same file system, durably: the file's
     * content is forced to disk before the rename, the directory after it. Without {@code replace}
     * an existing target is left alone ({@link FileAlreadyExistsException}).
     */
    public static void move(Path source, Path target, boolean replace) throws IOException {
        try (FileChannel ch = FileChannel.open(source, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ch.force(true);
        }
        Files.createDirectories(target.toAbsolutePath().getParent());
        rename(source, target, replace);
    }

    private static Path durableTemp(Path target, byte[] content, String posixPermissions) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + Thread.currentThread().threadId() + "-" + System.nanoTime());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            if (posixPermissions != null) setPermissions(tmp, posixPermissions);
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return tmp;
    }

    /** Atomic rename (plain where the file system cannot), then the directory forced to disk. */
    private static void rename(Path from, Path to, boolean replace) throws IOException {
        CopyOption[] atomic = replace
                ? new CopyOption[] {StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING}
                : new CopyOption[] {StandardCopyOption.ATOMIC_MOVE};
        if (!replace && Files.exists(to, LinkOption.NOFOLLOW_LINKS)) throw new FileAlreadyExistsException(to.toString());
        try {
            Files.move(from, to, atomic);
        } catch (AtomicMoveNotSupportedException e) {
            if (replace) Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            else Files.move(from, to);
        }
        fsyncDirectory(to.toAbsolutePath().getParent());
    }

    public static void setPermissions(Path p, String perms) throws IOException {
        Set<PosixFilePermission> set = PosixFilePermissions.fromString(perms);
        try {
            Files.setPosixFilePermissions(p, set);
        } catch (UnsupportedOperationException ignored) {
            // non-POSIX file system: nothing to tighten
        }
    }

    /** Creates a directory (and parents) and restricts it to the owner. */
    public static Path privateDirectory(Path dir) throws IOException {
        Files.createDirectories(dir);
        if (Files.isSymbolicLink(dir)) throw new IOException("refusing symlinked directory " + dir);
        setPermissions(dir, "rwx------");
        return dir;
    }

    /**
     * The text of a file replaced only through this class (so never half-written), or empty when it
     * does not exist yet. {@code what} names it in the error.
     */
    public static java.util.Optional<String> readIfExists(Path file, String what) {
        try {
            return java.util.Optional.of(Files.readString(file, java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.nio.file.NoSuchFileException e) {
            return java.util.Optional.empty();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + what, e);
        }
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform lets a directory be opened; the rename itself is still atomic
        }
    }
}
