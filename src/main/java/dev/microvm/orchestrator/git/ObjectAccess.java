package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.ProcessRunner;

import java.time.Duration;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Locale;

/**
 * Gives a task repository access to the user's objects without letting the guest write them.
 * Preferred: an {@code alternates} entry pointing at the read-only share (nothing copied).
 * Without a read-only share: copy-on-write clones of the object files (APFS {@code cp -c},
 * Linux {@code cp --reflink=always}), and as the last resort a plain byte copy. Never a hardlink:
 * without a read-only share the workspace is shared writable (vfkit), and a hardlinked object file
 * would put the user's own file in the guest's hands ({@code WritableShareWorkspaceTest}).
 */
final class ObjectAccess {
    static final String ALTERNATES = "alternates";
    static final String CLONE_COW = "clone-cow";
    static final String COPY = "copy";
    private static final Duration COPY_TIMEOUT = Duration.ofMinutes(30);

    private ObjectAccess() {
    }

    static Path alternatesFile(Path workspaceGitDir) {
        return workspaceGitDir.resolve("objects").resolve("info").resolve("alternates");
    }

    static void writeAlternates(Path workspaceGitDir, String objectsPath) throws IOException {
        Files.writeString(alternatesFile(workspaceGitDir), objectsPath + "\n", StandardCharsets.UTF_8);
    }

    /** Copies the user's objects into the workspace's object directory; returns the method used. */
    static String cloneObjects(Path userObjects, Path workspaceObjects) throws IOException {
        if (tryCopyOnWrite(userObjects, workspaceObjects)) {
            return CLONE_COW;
        }
        copyTree(userObjects, workspaceObjects);
        return COPY;
    }

    private static boolean tryCopyOnWrite(Path from, Path to) {
        boolean mac = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("mac");
        List<String> cmd = mac
                ? List.of("cp", "-c", "-R", from + "/.", to.toString())
                : List.of("cp", "--reflink=always", "-R", "--no-dereference", from + "/.", to.toString());
        try {
            return ProcessRunner.of(cmd).timeout(COPY_TIMEOUT).run().exitCode() == 0;
        } catch (IOException e) {
            return false; // not possible here (or hung): the plain copy below still works
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) {
                    Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.REPLACE_EXISTING);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
