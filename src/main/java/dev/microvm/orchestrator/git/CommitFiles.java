package dev.microvm.orchestrator.git;

import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

/** Reads one file as committed, never from a working tree. */
public final class CommitFiles {

    /** Larger files are refused: these are small configuration files. */
    static final int MAX_BYTES = 256 * 1024;

    private CommitFiles() {}

    /**
     * The text of {@code path} at {@code commit} of the user's repository; empty when the commit has no
     * such regular file.
     */
    public static Optional<String> read(Path userRepo, String commit, String path) throws GitTaskException {
        return readBytes(userRepo, commit, path, MAX_BYTES).map(b -> new String(b, StandardCharsets.UTF_8));
    }

    /**
     * The bytes of {@code path} at {@code commit}, at most {@code maxBytes} (a larger file is refused);
     * empty when the commit has no such regular file (absent, a directory, a link, a submodule).
     */
    public static Optional<byte[]> readBytes(Path userRepo, String commit, String path, long maxBytes) throws GitTaskException {
        try (Repository repo = UserRepos.open(userRepo); RevWalk walk = new RevWalk(repo)) {
            ObjectId id = repo.resolve(commit + "^{commit}");
            if (id == null) throw new GitTaskException("base_not_found", "no commit " + commit + " in " + userRepo);
            RevCommit c = walk.parseCommit(id);
            try (TreeWalk tw = TreeWalk.forPath(repo, path, c.getTree())) {
                if (tw == null || (tw.getRawMode(0) & 0170000) != 0100000) return Optional.empty();
                var loader = repo.open(tw.getObjectId(0));
                if (loader.getSize() > maxBytes) {
                    throw new GitTaskException("io_error", path + " at " + c.name() + " is larger than " + maxBytes + " bytes");
                }
                return Optional.of(loader.getBytes());
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new GitTaskException("io_error", "cannot read " + path + " at " + commit + ": " + e.getMessage());
        }
    }
}
