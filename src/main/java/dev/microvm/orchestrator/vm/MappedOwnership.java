package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Set;

/**
 * Gives a host directory the ownership the guest's agent user needs, in the on-disk form of QEMU's
 * 9p {@code security_model=mapped-xattr}: the guest's owner, group and mode of each file live in
 * the extended attributes {@code user.virtfs.uid/gid/mode} (32-bit little-endian), and a symbolic
 * link is a regular file holding its target with the link type in its mode.
 *
 * <p>Why on the host: the workspace is written by the orchestrator (root or an ordinary user), but
 * the agent runs as an unprivileged guest user and must own what it edits. Stamping here costs a few
 * system calls per file instead of a {@code chown -R} through 9p under emulation, and it is the only
 * way host-written symbolic links read back as links in the guest (the mapped model reads a link's
 * target from the file's content). Nothing the guest then does — setuid bits, device nodes, other
 * owners — ever becomes host metadata: it stays in these attributes of plain files.
 */
public final class MappedOwnership {
    static final String UID = "virtfs.uid";
    static final String GID = "virtfs.gid";
    static final String MODE = "virtfs.mode";

    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;

    private MappedOwnership() {}

    /** Stamps every file, directory and link under {@code root} (root included) as owned by uid:gid. */
    public static void stamp(Path root, int uid, int gid) throws IOException {
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    write(dir, uid, gid, S_IFDIR | permissions(dir));
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    if (attrs.isSymbolicLink()) {
                        String target = Files.readSymbolicLink(file).toString();
                        Files.delete(file);
                        Files.writeString(file, target, StandardCharsets.UTF_8);
                        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
                        write(file, uid, gid, S_IFLNK | 0777);
                    } else if (attrs.isRegularFile()) {
                        write(file, uid, gid, S_IFREG | permissions(file));
                    }
                    // anything else (a FIFO or socket the host made) keeps the host's view
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (java.nio.file.FileSystemException e) {
            if (String.valueOf(e.getReason()).contains("not supported")) {
                throw new IOException("the state directory's file system does not support user extended attributes, which the "
                        + "guest needs to own its workspace (QEMU 9p mapped-xattr): " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** The guest-side mode recorded for {@code p}, or -1 when there is none (tests, diagnostics). */
    public static int recordedMode(Path p) throws IOException {
        return read(p, MODE);
    }

    /** The guest-side owner recorded for {@code p}, or -1 when there is none. */
    public static int recordedUid(Path p) throws IOException {
        return read(p, UID);
    }

    private static int read(Path p, String name) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null || !view.list().contains(name)) return -1;
        ByteBuffer buf = ByteBuffer.allocate(view.size(name)).order(ByteOrder.LITTLE_ENDIAN);
        view.read(name, buf);
        buf.flip();
        return buf.remaining() >= 4 ? buf.getInt() : -1;
    }

    private static void write(Path p, int uid, int gid, int mode) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null) throw new IOException("no extended attributes on " + p);
        view.write(UID, le(uid));
        view.write(GID, le(gid));
        view.write(MODE, le(mode));
    }

    private static ByteBuffer le(int v) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v);
        b.flip();
        return b;
    }

    private static int permissions(Path p) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
        int mode = 0;
        for (PosixFilePermission perm : perms) {
            mode |= switch (perm) {
                case OWNER_READ -> 0400;
                case OWNER_WRITE -> 0200;
                case OWNER_EXECUTE -> 0100;
                case GROUP_READ -> 040;
                case GROUP_WRITE -> 020;
                case GROUP_EXECUTE -> 010;
                case OTHERS_READ -> 04;
                case OTHERS_WRITE -> 02;
                case OTHERS_EXECUTE -> 01;
            };
        }
        return mode;
    }
}
