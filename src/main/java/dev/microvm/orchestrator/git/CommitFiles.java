package dev.microvm.orchestrator.git;

import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectLoader;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads files of one commit of a user's (trusted) repository without a working tree: the
 * environment file and the setup inputs a task's setup key is made of. Only regular files count;
 * a path that is absent, a directory, a link or a submodule reads as absent.
 */
public final class CommitFiles {
    private CommitFiles() {}

    /** The contents of {@code paths} at {@code commit}, in the order given; absent files are empty. */
    public static Map<String, Optional<byte[]>> read(Path userRepo, String commit, List<String> paths, long maxBytesEach)
            throws GitTaskException {
        try (Repository repo = UserRepos.open(userRepo); RevWalk walk = new RevWalk(repo)) {
            RevCommit c = walk.parseCommit(ObjectId.fromString(commit));
            Map<String, Optional<byte[]>> out = new LinkedHashMap<>();
            for (String path : paths) out.put(path, blob(repo, c, path, maxBytesEach));
            return out;
        } catch (IOException | IllegalArgumentException e) {
            throw new GitTaskException("io_error", "cannot read files of commit " + commit + " in " + userRepo + ": " + e.getMessage(), e);
        }
    }

    private static Optional<byte[]> blob(Repository repo, RevCommit c, String path, long maxBytes) throws IOException, GitTaskException {
        String clean = path.startsWith("./") ? path.substring(2) : path;
        if (clean.isEmpty() || clean.startsWith("/") || clean.endsWith("/")) return Optional.empty();
        try (TreeWalk tw = TreeWalk.forPath(repo, clean, c.getTree())) {
            if (tw == null) return Optional.empty();
            FileMode mode = tw.getFileMode(0);
            if (mode != FileMode.REGULAR_FILE && mode != FileMode.EXECUTABLE_FILE) return Optional.empty();
            ObjectLoader loader = repo.open(tw.getObjectId(0));
            if (loader.getSize() > maxBytes) {
                throw new GitTaskException("io_error", path + " in commit " + c.name() + " is " + loader.getSize()
                        + " bytes; at most " + maxBytes + " are read");
            }
            return Optional.of(loader.getBytes());
        }
    }
}
