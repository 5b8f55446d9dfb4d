package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.secrets.GuestOutputException.Reason;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;

/**
 * Reads files a guest wrote into a shared directory (result files, logs, bundles) as untrusted
 * data. A guest can plant anything there: a symlink to {@code ~/.ssh/id_ed25519}, a symlinked
 * directory, a FIFO that would block the reader forever, a sparse file of 100 GB, a name with
 * {@code ../}. So a file is read only when
 * <ul>
 *   <li>its name normalizes to a path inside the directory,</li>
 *   <li>no component between the directory and the file is a symbolic link (checked without
 *       following links),</li>
 *   <li>it is a regular file (FIFOs, sockets and devices are refused before anything opens them),</li>
 *   <li>it has exactly one hard link: a second name could be a host file the guest must not
 *       reach, and genuine guest output never needs one,</li>
 * </ul>
 * and never more than the cap is read.
 *
 * <p>Precondition: the VM that wrote the directory has stopped. The checks and the read are
 * separate system calls; with the writer gone nothing can swap the file in between.
 * Blocking: call from worker threads only.
 */
public final class GuestOutputReader {

    private final Path root;
    private final long maxBytes;

    /**
     * @param guestDir the directory shared into the guest (host-created, so trusted itself)
     * @param maxBytes the most bytes {@link #read} returns
     */
    public GuestOutputReader(Path guestDir, long maxBytes) {
        if (maxBytes < 0) throw new IllegalArgumentException("maxBytes must not be negative");
        this.root = guestDir.toAbsolutePath().normalize();
        this.maxBytes = maxBytes;
    }

    /** Reads at most the cap of bytes; {@link GuestFile#truncated()} tells whether there was more. */
    public GuestFile read(String name) throws IOException {
        if (maxBytes > Integer.MAX_VALUE - 16) throw new IllegalStateException("cap too large to read into memory");
        Path file = check(name);
        long size = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).size();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(maxBytes, Math.max(size, 0)) + 1);
            while (buf.hasRemaining() && ch.read(buf) >= 0) { /* fill up to cap + 1 to detect more */ }
            int n = buf.position();
            boolean truncated = n > maxBytes || size > maxBytes;
            byte[] content = Arrays.copyOf(buf.array(), (int) Math.min(n, maxBytes));
            return new GuestFile(file, content, size, truncated);
        }
    }

    /** Like {@link #read}, but an absent file is empty rather than an error. */
    public java.util.Optional<GuestFile> readIfPresent(String name) throws IOException {
        return unlessMissing(() -> read(name));
    }

    /** The last bytes of the file, at most the cap (for logs whose end matters); empty when absent. */
    public java.util.Optional<GuestFile> readTailIfPresent(String name) throws IOException {
        if (maxBytes > Integer.MAX_VALUE - 16) throw new IllegalStateException("cap too large to read into memory");
        java.util.Optional<Path> file = checkedIfPresent(name);
        if (file.isEmpty()) return java.util.Optional.empty();
        try (FileChannel ch = FileChannel.open(file.get(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            long start = Math.max(0, size - maxBytes);
            return java.util.Optional.of(new GuestFile(file.get(), read(ch, start, (int) Math.min(maxBytes, size)), size, start > 0));
        }
    }

    /**
     * Up to {@code length} bytes (never more than the cap) from {@code offset}, for paginated reads
     * of a guest log; {@link GuestFile#size()} is the whole file's size. With {@code fromEnd} the
     * offset counts back from the end. An absent file is empty.
     */
    public java.util.Optional<GuestFile> readRangeIfPresent(String name, long offset, boolean fromEnd, int length) throws IOException {
        java.util.Optional<Path> file = checkedIfPresent(name);
        if (file.isEmpty()) return java.util.Optional.empty();
        try (FileChannel ch = FileChannel.open(file.get(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            long start = fromEnd ? Math.max(0, size - Math.max(0, offset)) : Math.min(Math.max(0, offset), size);
            byte[] content = read(ch, start, (int) Math.min(Math.min(Math.max(0, length), maxBytes), size - start));
            return java.util.Optional.of(new GuestFile(file.get(), content, size, start + content.length < size));
        }
    }

    /** The checked path of {@code name}, or empty when the guest left no such file. */
    private java.util.Optional<Path> checkedIfPresent(String name) throws IOException {
        return unlessMissing(() -> check(name));
    }

    private interface GuestRead<T> {
        T get() throws IOException;
    }

    /** The result, or empty when the guest left no such file; every other refusal stands. */
    private static <T> java.util.Optional<T> unlessMissing(GuestRead<T> read) throws IOException {
        try {
            return java.util.Optional.of(read.get());
        } catch (GuestOutputException e) {
            if (e.reason() == Reason.MISSING) return java.util.Optional.empty();
            throw e;
        }
    }

    private static byte[] read(FileChannel ch, long start, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        while (buf.hasRemaining() && ch.read(buf, start + buf.position()) > 0) { /* fill */ }
        return Arrays.copyOf(buf.array(), buf.position());
    }

    /** Whether a file of that name exists and passes every check. */
    public boolean isReadable(String name) {
        try {
            check(name);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Validates the name and every path component; returns the file to open. */
    Path check(String name) throws IOException {
        Path file = resolveInside(name);
        Path current = root;
        Path relative = root.relativize(file);
        for (int i = 0; i < relative.getNameCount(); i++) {
            current = current.resolve(relative.getName(i));
            BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(current, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                throw new GuestOutputException(Reason.MISSING, "guest file " + name + " does not exist");
            }
            if (attrs.isSymbolicLink()) {
                throw new GuestOutputException(Reason.SYMLINK, "guest file " + name + " is or lies under a symbolic link; refused");
            }
            boolean last = i == relative.getNameCount() - 1;
            if (!last && !attrs.isDirectory()) {
                throw new GuestOutputException(Reason.NOT_A_DIRECTORY, "guest path " + name + " goes through a non-directory");
            }
            if (last && !attrs.isRegularFile()) {
                throw new GuestOutputException(Reason.NOT_REGULAR, "guest file " + name + " is not a regular file; refused");
            }
        }
        if (linkCount(file) > 1) {
            throw new GuestOutputException(Reason.HARDLINK, "guest file " + name + " has several hard links; refused");
        }
        return file;
    }

    private Path resolveInside(String name) throws GuestOutputException {
        if (name == null || name.isEmpty() || name.indexOf('\0') >= 0) {
            throw new GuestOutputException(Reason.BAD_NAME, "invalid guest file name");
        }
        Path requested;
        try {
            requested = root.getFileSystem().getPath(name);
        } catch (RuntimeException e) {
            throw new GuestOutputException(Reason.BAD_NAME, "invalid guest file name");
        }
        if (requested.isAbsolute()) throw new GuestOutputException(Reason.BAD_NAME, "guest file name must be relative: " + name);
        Path file = root.resolve(requested).normalize();
        if (!file.startsWith(root) || file.equals(root)) {
            throw new GuestOutputException(Reason.BAD_NAME, "guest file name escapes its directory: " + name);
        }
        return file;
    }

    private static int linkCount(Path file) throws IOException {
        if (!file.getFileSystem().supportedFileAttributeViews().contains("unix")) return 1;
        Object n = Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        return n instanceof Integer i ? i : 1;
    }
}
