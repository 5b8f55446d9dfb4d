package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The secret that every HTTP and WebSocket request to the dashboard must carry. Generated once per
 * state directory and kept in a 0600 file, so that all orchestrator processes of one user share it
 * and the printed dashboard link stays valid across restarts.
 *
 * <p>The file is created atomically (written to a private temporary file, then linked into place
 * without replacing): two processes starting at once end up with the same token. Blocking.
 */
public final class AccessToken {

    private static final Pattern FORMAT = Pattern.compile("[0-9a-f]{64}");

    private final String value;

    private AccessToken(String value) {
        this.value = value;
    }

    /** Reads the token file, creating it with a fresh random token on first start. */
    public static AccessToken loadOrCreate(Path file) {
        try {
            if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) create(file);
            return read(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use the access token file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Constant-time comparison, so the response time says nothing about how much of a guess was right. */
    public boolean matches(String candidate) {
        if (candidate == null) return false;
        return MessageDigest.isEqual(value.getBytes(StandardCharsets.US_ASCII), candidate.getBytes(StandardCharsets.US_ASCII));
    }

    /** The secret itself, for the dashboard link printed at startup; never log it. */
    public String reveal() {
        return value;
    }

    @Override
    public String toString() {
        return "AccessToken[redacted]";
    }

    private static void create(Path file) throws IOException {
        Path dir = file.getParent();
        Files.createDirectories(dir);
        restrictDirectory(dir);
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = HexFormat.of().formatHex(random);
        // whoever creates it first wins; a process that lost the race uses theirs
        AtomicFiles.createIfAbsent(file, (token + "\n").getBytes(StandardCharsets.US_ASCII), "rw-------");
    }

    private static AccessToken read(Path file) throws IOException {
        if (Files.isSymbolicLink(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("the access token file must be a regular file, not a link: " + file);
        }
        String token = Files.readString(file, StandardCharsets.US_ASCII).strip();
        if (!FORMAT.matcher(token).matches()) {
            throw new IOException("the access token file " + file + " is damaged; delete it and restart to get a new token");
        }
        restrictFile(file);
        return new AccessToken(token);
    }

    private static void restrictFile(Path file) throws IOException {
        if (isPosix(file)) Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }

    private static void restrictDirectory(Path dir) throws IOException {
        if (isPosix(dir)) Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }

    private static boolean isPosix(Path p) {
        return p.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
