package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.HostLock;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

/**
 * Opens a registered (trusted) user repository. Never used on a directory the guest wrote:
 * JGit follows {@code gitdir:} files and alternates, so only the user's own repository may be
 * opened this way.
 */
final class UserRepos {
    private UserRepos() {
    }

    static Repository open(Path userRepo) throws GitTaskException {
        if (userRepo == null || !Files.isDirectory(userRepo)) {
            throw new GitTaskException("repo_not_found", "repository directory does not exist: " + userRepo);
        }
        try {
            FileRepositoryBuilder builder = new FileRepositoryBuilder().setMustExist(true);
            File dotGit = userRepo.resolve(".git").toFile();
            if (dotGit.exists()) {
                builder.setWorkTree(userRepo.toFile());
            } else {
                builder.setGitDir(userRepo.toFile());
            }
            return builder.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new GitTaskException("repo_not_found", "not a git repository: " + userRepo + " (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Serializes ref-changing operations on one repository across threads and orchestrator
     * processes (the host lock on {@code microvm-merge.lock} in its common directory).
     */
    static HostLock.Held lock(Repository repo) throws IOException {
        return HostLock.acquire(repo.getCommonDirectory().toPath().resolve("microvm-merge.lock"));
    }

    /** The object directory shared by every worktree of the repository. */
    static Path objectsDir(Repository repo) {
        return repo.getCommonDirectory().toPath().resolve("objects").toAbsolutePath().normalize();
    }
}
