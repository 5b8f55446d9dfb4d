package dev.microvm.orchestrator.git;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.eclipse.jgit.diff.DiffEntry;
import org.eclipse.jgit.diff.DiffFormatter;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevWalk;

/**
 * Shows what a task changed: the diff from a commit (normally the agent's base) to
 * {@code refs/tasks/<id>}, paginated by file so large changes can be reviewed piece by piece.
 */
public final class TaskDiff {
    /** Patch text per page is also capped so one huge file cannot flood a client. */
    static final int MAX_PATCH_CHARS = 256 * 1024;

    public DiffPage diff(java.nio.file.Path userRepo, String taskId, String fromCommit, long offset, int limit)
            throws GitTaskException {
        TaskRefNames.requireValidTaskId(taskId);
        if (offset < 0 || limit < 1) {
            throw new GitTaskException("invalid_page", "offset must be >= 0 and limit >= 1");
        }
        try (Repository repo = UserRepos.open(userRepo); RevWalk walk = new RevWalk(repo)) {
            Ref taskRef = repo.exactRef(TaskRefNames.taskRef(taskId));
            if (taskRef == null) {
                return new DiffPage(List.of(), offset, "", -1);
            }
            if (fromCommit == null || fromCommit.isBlank()) {
                throw new GitTaskException("base_not_found", "the commit to diff from is required (the task's agent base commit)");
            }
            ObjectId from = repo.resolve(fromCommit + "^{commit}");
            if (from == null) {
                throw new GitTaskException("base_not_found", "no commit " + fromCommit + " in " + userRepo);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (DiffFormatter formatter = new DiffFormatter(out)) {
                formatter.setRepository(repo);
                formatter.setDetectRenames(true);
                List<DiffEntry> entries = formatter.scan(walk.parseCommit(from).getTree(),
                        walk.parseCommit(taskRef.getObjectId()).getTree());
                List<DiffPage.FileChange> files = new ArrayList<>();
                for (DiffEntry e : entries) {
                    boolean deleted = e.getChangeType() == DiffEntry.ChangeType.DELETE;
                    files.add(new DiffPage.FileChange(e.getChangeType().name().toLowerCase(Locale.ROOT),
                            deleted ? e.getOldPath() : e.getNewPath(),
                            e.getChangeType() == DiffEntry.ChangeType.ADD ? null : e.getOldPath()));
                }
                long index = offset;
                int inPage = 0;
                while (index < entries.size() && inPage < limit && (inPage == 0 || out.size() < MAX_PATCH_CHARS)) {
                    formatter.format(entries.get((int) index));
                    formatter.flush();
                    index++;
                    inPage++;
                }
                String patch = out.toString(StandardCharsets.UTF_8);
                return new DiffPage(files, offset, patch, index < entries.size() ? index : -1);
            }
        } catch (IOException | RuntimeException e) {
            throw new GitTaskException("io_error", "cannot diff task " + taskId + ": " + e.getMessage(), e);
        }
    }
}
