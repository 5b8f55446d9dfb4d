package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Reading and writing files that hold one credential: written atomically and created 0600 (never
 * world-readable, not even for an instant) inside a 0700 directory; read without following
 * symbolic links, with a warning when the file is readable by anyone but its owner.
 */
public final class SecretFiles {

    static final int MAX_SECRET_FILE_BYTES = 64 * 1024;

    private static final Set<PosixFilePermission> OWNER_RWX = PosixFilePermissions.fromString("rwx------");

    private SecretFiles() {}

    /**
     * Writes {@code value} plus a newline to {@code file}, replacing it atomically. The directory is
     * created (0700) if missing. A symbolic link at {@code file} is replaced, never written through.
     */
    public static void writeAtomically(Path file, Secret value) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        ensurePrivateDirectory(dir);
        AtomicFiles.write(file, (value.reveal() + "\n").getBytes(StandardCharsets.UTF_8), "rw-------");
    }

    /** Creates the directory 0700, or tightens an existing one we own; refuses a symbolic link. */
    public static void ensurePrivateDirectory(Path dir) throws IOException {
        if (Files.isSymbolicLink(dir)) {
            throw new IOException("refusing to use " + dir + ": it is a symbolic link");
        }
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir.getParent());
            try {
                if (isPosix(dir.getParent())) {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_RWX));
                } else {
                    Files.createDirectory(dir);
                }
            } catch (FileAlreadyExistsException raced) {
                // another process created it first; fall through to the checks below
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("refusing to use " + dir + ": it is not a directory");
        }
        if (isPosix(dir)) Files.setPosixFilePermissions(dir, OWNER_RWX);
    }

    /**
     * Reads a secret file. Refuses symbolic links and anything but a regular file; warns through
     * {@code warnings} when group or others may read it.
     *
     * @throws IOException with a message that says what is wrong with the file
     */
    public static Secret read(Path file, Consumer<String> warnings) throws IOException {
        PosixFileAttributes posix = null;
        var view = Files.getFileAttributeView(file, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        var attrs = view != null
                ? (posix = view.readAttributes())
                : Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (attrs.isSymbolicLink()) {
            throw new IOException("refusing to read " + file + ": it is a symbolic link; store the token in the file itself");
        }
        if (!attrs.isRegularFile()) {
            throw new IOException("refusing to read " + file + ": it is not a regular file");
        }
        if (attrs.size() > MAX_SECRET_FILE_BYTES) {
            throw new IOException("refusing to read " + file + ": " + attrs.size() + " bytes is too large for a token file");
        }
        if (posix != null && isMoreOpenThanOwnerOnly(posix.permissions())) {
            warnings.accept("token file " + file + " has permissions " + PosixFilePermissions.toString(posix.permissions())
                    + "; other users may read it. Fix with: chmod 600 " + file);
        }
        byte[] bytes;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer buf = ByteBuffer.allocate(MAX_SECRET_FILE_BYTES + 1);
            while (buf.hasRemaining() && ch.read(buf) >= 0) { /* read up to the cap */ }
            if (buf.position() > MAX_SECRET_FILE_BYTES) {
                throw new IOException("refusing to read " + file + ": too large for a token file");
            }
            bytes = java.util.Arrays.copyOf(buf.array(), buf.position());
        }
        String text = new String(bytes, StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) throw new IOException("token file " + file + " is empty");
        return Secret.of(text);
    }

    static boolean isMoreOpenThanOwnerOnly(Set<PosixFilePermission> perms) {
        for (PosixFilePermission p : perms) {
            if (p != PosixFilePermission.OWNER_READ && p != PosixFilePermission.OWNER_WRITE) return true;
        }
        return false;
    }

    private static boolean isPosix(Path p) {
        return p.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
