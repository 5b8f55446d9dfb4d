package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.HostLock;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;

/**
 * Removes the refs a task owns in the user's repository, only when asked. A published
 * {@code microvm/<id>} branch belongs to the user and is never deleted here.
 */
public final class TaskRefs {
    private TaskRefs() {
    }

    /** Returns the refs deleted; nothing is deleted unless {@code deleteRef} is true. */
    public static List<String> cleanup(Path userRepo, String taskId, boolean deleteRef) throws GitTaskException {
        TaskRefNames.requireValidTaskId(taskId);
        if (!deleteRef) {
            return List.of();
        }
        try (Repository repo = UserRepos.open(userRepo); HostLock.Held lock = UserRepos.lock(repo)) {
            List<String> deleted = new ArrayList<>();
            for (String name : List.of(TaskRefNames.taskRef(taskId), TaskRefNames.baseRef(taskId))) {
                Ref ref = repo.exactRef(name);
                if (ref == null) {
                    continue;
                }
                RefUpdate update = repo.updateRef(name);
                update.setExpectedOldObjectId(ref.getObjectId());
                update.setForceUpdate(true);
                RefUpdate.Result result = update.delete();
                if (result == RefUpdate.Result.FORCED || result == RefUpdate.Result.NO_CHANGE) {
                    deleted.add(name);
                }
            }
            return deleted;
        } catch (IOException e) {
            throw new GitTaskException("io_error", "cannot clean up refs of task " + taskId + ": " + e.getMessage(), e);
        }
    }
}
