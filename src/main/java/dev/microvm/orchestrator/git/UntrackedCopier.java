package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.eclipse.jgit.dircache.DirCache;

/**
 * Copies untracked files that match user-chosen glob patterns (for example {@code .env}) from the
 * user's working tree into a workspace. A pattern without a slash matches a file name anywhere;
 * a pattern with a slash matches the path relative to the repository root. Only regular files
 * are copied; symbolic links are skipped so a link to {@code ~/.ssh} never leaks into a guest.
 */
final class UntrackedCopier {
    private UntrackedCopier() {
    }

    static List<String> copy(Path workTree, DirCache index, List<String> patterns, Path workspace) throws IOException {
        if (patterns.isEmpty()) {
            return List.of();
        }
        List<PathMatcher> byName = new ArrayList<>();
        List<PathMatcher> byPath = new ArrayList<>();
        for (String pattern : patterns) {
            PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
            (pattern.contains("/") ? byPath : byName).add(matcher);
        }
        List<String> copied = new ArrayList<>();
        Files.walkFileTree(workTree, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                return dir.getFileName() != null && dir.getFileName().toString().equals(".git") && !dir.equals(workTree)
                        ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (!attrs.isRegularFile()) {
                    return FileVisitResult.CONTINUE;
                }
                Path relative = workTree.relativize(file);
                String gitPath = relative.toString().replace('\\', '/');
                boolean matches = byName.stream().anyMatch(m -> m.matches(relative.getFileName()))
                        || byPath.stream().anyMatch(m -> m.matches(relative));
                if (matches && index.findEntry(gitPath) < 0) {
                    Path target = workspace.resolve(relative).normalize();
                    if (!target.startsWith(workspace)) {
                        return FileVisitResult.CONTINUE;
                    }
                    Files.createDirectories(target.getParent());
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING, LinkOption.NOFOLLOW_LINKS,
                            StandardCopyOption.COPY_ATTRIBUTES);
                    copied.add(gitPath);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) {
                return FileVisitResult.CONTINUE;
            }
        });
        copied.sort(null);
        return copied;
    }
}
