package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.eclipse.jgit.dircache.DirCache;
import org.eclipse.jgit.dircache.DirCacheCheckout;
import org.eclipse.jgit.errors.CheckoutConflictException;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.lib.RepositoryState;
import org.eclipse.jgit.revwalk.RevWalk;

/**
 * Moves a branch by compare-and-swap and, when that branch is checked out in the user's working
 * tree, brings the working tree along only if no locally modified or untracked file would be
 * overwritten. If it cannot, the branch is put back and the blocking files are reported.
 */
final class CheckedOutBranch {
    enum Status { MOVED, CONCURRENT_UPDATE, DIRTY, BUSY, CHECKED_OUT_ELSEWHERE }

    record Outcome(Status status, List<String> dirtyFiles) {
    }

    private CheckedOutBranch() {
    }

    static Outcome move(Repository repo, String branchRef, ObjectId expectedOld, ObjectId newTip, String message)
            throws IOException {
        if (checkedOutInLinkedWorktree(repo, branchRef)) {
            return new Outcome(Status.CHECKED_OUT_ELSEWHERE, List.of());
        }
        Ref head = repo.exactRef(Constants.HEAD);
        boolean checkedOut = !repo.isBare() && head != null && head.isSymbolic()
                && head.getTarget().getName().equals(branchRef);
        if (!checkedOut) {
            return new Outcome(compareAndSwap(repo, branchRef, expectedOld, newTip, message), List.of());
        }
        if (repo.getRepositoryState() != RepositoryState.SAFE) {
            return new Outcome(Status.BUSY, List.of());
        }
        DirCache index = repo.lockDirCache();
        try (RevWalk walk = new RevWalk(repo)) {
            DirCacheCheckout checkout = new DirCacheCheckout(repo, walk.parseCommit(expectedOld).getTree(), index,
                    walk.parseCommit(newTip).getTree());
            checkout.setFailOnConflict(true);
            checkout.preScanTwoTrees();
            java.util.TreeSet<String> blocked = new java.util.TreeSet<>(checkout.getConflicts());
            blocked.addAll(LocalChanges.among(repo, index, walk.parseCommit(expectedOld).getTree(),
                    ChangedPaths.between(repo, expectedOld, newTip)));
            if (!blocked.isEmpty()) {
                return new Outcome(Status.DIRTY, List.copyOf(blocked));
            }
            Status swapped = compareAndSwap(repo, branchRef, expectedOld, newTip, message);
            if (swapped != Status.MOVED) {
                return new Outcome(swapped, List.of());
            }
            DirCacheCheckout apply = new DirCacheCheckout(repo, walk.parseCommit(expectedOld).getTree(), index,
                    walk.parseCommit(newTip).getTree());
            apply.setFailOnConflict(true);
            try {
                apply.checkout();
            } catch (CheckoutConflictException e) {
                undo(repo, branchRef, newTip, expectedOld);
                return new Outcome(Status.DIRTY, List.copyOf(apply.getConflicts()));
            }
            return new Outcome(Status.MOVED, List.of());
        } finally {
            index.unlock();
        }
    }

    private static Status compareAndSwap(Repository repo, String branchRef, ObjectId expectedOld, ObjectId newTip,
                                         String message) throws IOException {
        RefUpdate update = repo.updateRef(branchRef);
        update.setExpectedOldObjectId(expectedOld);
        update.setNewObjectId(newTip);
        update.setRefLogMessage(message, false);
        RefUpdate.Result result = update.update();
        return switch (result) {
            case FAST_FORWARD, FORCED, NO_CHANGE -> Status.MOVED;
            default -> Status.CONCURRENT_UPDATE;
        };
    }

    private static void undo(Repository repo, String branchRef, ObjectId current, ObjectId previous) throws IOException {
        RefUpdate update = repo.updateRef(branchRef);
        update.setExpectedOldObjectId(current);
        update.setNewObjectId(previous);
        update.setForceUpdate(true);
        update.setRefLogMessage("microvm: working tree could not follow, branch restored", false);
        update.update();
    }

    /** A branch checked out in another worktree cannot have that worktree's files updated from here. */
    private static boolean checkedOutInLinkedWorktree(Repository repo, String branchRef) throws IOException {
        Path worktrees = repo.getCommonDirectory().toPath().resolve("worktrees");
        if (!Files.isDirectory(worktrees)) {
            return false;
        }
        Path ownGitDir = repo.getDirectory().toPath().toAbsolutePath().normalize();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(worktrees)) {
            for (Path dir : dirs) {
                Path headFile = dir.resolve("HEAD");
                if (dir.toAbsolutePath().normalize().equals(ownGitDir) || !Files.isRegularFile(headFile)) {
                    continue;
                }
                String head = Files.readString(headFile, StandardCharsets.UTF_8).strip();
                if (head.equals("ref: " + branchRef)) {
                    return true;
                }
            }
        }
        return false;
    }
}
