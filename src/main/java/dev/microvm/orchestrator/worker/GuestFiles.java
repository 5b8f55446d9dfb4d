package dev.microvm.orchestrator.worker;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * Reads files the guest wrote, after its VM has stopped: never through a link, only regular
 * files, never more than a cap. A guest can plant symlinks to host secrets, FIFOs that would
 * block a reader, or sparse files of any size; all of them are refused or truncated here.
 */
public final class GuestFiles {

    private GuestFiles() {}

    /** The file's bytes (at most {@code cap}); empty when absent; an exception when unsafe. */
    public static Optional<byte[]> read(Path dir, String name, int cap) throws IOException {
        Path file = inside(dir, name);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        requireRegular(file);
        try (InputStream in = Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.of(in.readNBytes(cap));
        }
    }

    public static Optional<String> readString(Path dir, String name, int cap) throws IOException {
        return read(dir, name, cap).map(b -> new String(b, StandardCharsets.UTF_8));
    }

    /** The last {@code cap} bytes of a file (for logs whose end matters). */
    public static Optional<String> readTail(Path dir, String name, int cap) throws IOException {
        Path file = inside(dir, name);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        requireRegular(file);
        try (var ch = Files.newByteChannel(file, java.util.Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            long size = ch.size();
            ch.position(Math.max(0, size - cap));
            var buf = java.nio.ByteBuffer.allocate((int) Math.min(cap, size));
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            return Optional.of(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
        }
    }

    public static boolean exists(Path dir, String name) {
        return Files.exists(inside(dir, name), LinkOption.NOFOLLOW_LINKS);
    }

    private static void requireRegular(Path file) throws IOException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("guest output " + file.getFileName() + " is not a regular file (link, FIFO or device); refused");
        }
        Path parent = file.getParent();
        if (parent != null && Files.isSymbolicLink(parent)) {
            throw new IOException("guest output directory " + parent + " is a symbolic link; refused");
        }
    }

    private static Path inside(Path dir, String name) {
        Path p = dir.resolve(name).normalize();
        if (!p.startsWith(dir.normalize())) throw new IllegalArgumentException("path escapes " + dir + ": " + name);
        return p;
    }
}
