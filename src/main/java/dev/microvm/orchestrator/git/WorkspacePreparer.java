package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.eclipse.jgit.dircache.DirCache;
import org.eclipse.jgit.dircache.DirCacheCheckout;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

/**
 * Creates a task's workspace: a normal git repository on branch {@code microvm/<id>} whose
 * objects come from the user's repository without copying history (see {@link ObjectAccess}),
 * so the cost is close to writing the working tree. The user's repository is only read, apart
 * from the optional snapshot commit of uncommitted changes and the ref that keeps it alive.
 */
public final class WorkspacePreparer {
    private final boolean preferGitCli;

    /** Writes the working tree with the git command line when it is installed (fastest), else with JGit. */
    public WorkspacePreparer() {
        this(true);
    }

    WorkspacePreparer(boolean preferGitCli) {
        this.preferGitCli = preferGitCli;
    }

    public PreparedWorkspace prepare(PrepareRequest request) throws GitTaskException {
        String taskId = TaskRefNames.requireValidTaskId(request.taskId());
        Path workspace = request.workspaceDir().toAbsolutePath().normalize();
        requireEmptyOrAbsent(workspace);
        try (Repository repo = UserRepos.open(request.userRepo()); RevWalk walk = new RevWalk(repo)) {
            Base base = resolveBase(repo, walk, request.baseRef());
            ObjectId agentBase = base.commit;
            if (request.includeUncommitted() && !repo.isBare()) {
                agentBase = snapshotUncommitted(repo, walk, base, taskId);
            }
            Path gitDir = workspace.resolve(".git");
            Path userObjects = UserRepos.objectsDir(repo);
            initRepository(repo, gitDir, taskId, agentBase);
            String method;
            if (request.objectsPathSeenByAgent() != null) {
                ObjectAccess.writeAlternates(gitDir, userObjects.toString());
                method = ObjectAccess.ALTERNATES;
            } else {
                method = ObjectAccess.cloneObjects(userObjects, gitDir.resolve("objects"));
            }
            writeWorkingTree(workspace, gitDir);
            List<String> copied = repo.isBare() ? List.of()
                    : UntrackedCopier.copy(repo.getWorkTree().toPath(), repo.readDirCache(),
                    request.untrackedPatterns(), workspace);
            excludeFromCommits(gitDir, copied);
            if (method.equals(ObjectAccess.ALTERNATES)) {
                ObjectAccess.writeAlternates(gitDir, request.objectsPathSeenByAgent());
            }
            return new PreparedWorkspace(base.commit.name(), base.branch, agentBase.name(), method,
                    method.equals(ObjectAccess.ALTERNATES) ? userObjects : null, copied);
        } catch (IOException e) {
            throw new GitTaskException("workspace_failed", "could not prepare workspace " + workspace + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The commit {@code baseRef} names now, by the rules {@link #prepare} follows (no base: the
     * checked-out commit; a branch name wins over a commit id); empty when it names none, which
     * prepare refuses with the reason.
     */
    public static Optional<String> baseCommit(Path userRepo, String baseRef) throws GitTaskException {
        try (Repository repo = UserRepos.open(userRepo); RevWalk walk = new RevWalk(repo)) {
            return Optional.of(resolveBase(repo, walk, baseRef).commit.name());
        } catch (GitTaskException e) {
            if ("base_not_found".equals(e.reason())) return Optional.empty();
            throw e;
        } catch (IOException e) {
            throw new GitTaskException("io_error", "cannot read the base '" + baseRef + "' of " + userRepo + ": " + e.getMessage(), e);
        }
    }

    /** The commit is only resolved, not parsed, when it comes from a ref: reading objects would load the
     *  repository's pack indexes, whose size grows with history. */
    private record Base(ObjectId commit, String branch) {
    }

    private static Base resolveBase(Repository repo, RevWalk walk, String baseRef) throws IOException, GitTaskException {
        if (baseRef == null || baseRef.isBlank()) {
            Ref head = repo.exactRef(Constants.HEAD);
            if (head == null || head.getObjectId() == null) {
                throw new GitTaskException("base_not_found", "the repository has no commits yet; commit something first");
            }
            String branch = head.isSymbolic() && head.getTarget().getName().startsWith(Constants.R_HEADS)
                    ? Repository.shortenRefName(head.getTarget().getName()) : null;
            return new Base(head.getObjectId().copy(), branch);
        }
        String branchName = baseRef.startsWith(Constants.R_HEADS) ? baseRef : Constants.R_HEADS + baseRef;
        Ref branch = repo.exactRef(branchName);
        if (branch != null && branch.getObjectId() != null) {
            return new Base(branch.getObjectId().copy(), Repository.shortenRefName(branchName));
        }
        ObjectId commit;
        try {
            commit = repo.resolve(baseRef + "^{commit}");
        } catch (RuntimeException | IOException e) {
            commit = null;
        }
        if (commit == null) {
            throw new GitTaskException("base_not_found", "no branch or commit named '" + baseRef + "' in " + repo.getDirectory());
        }
        return new Base(walk.parseCommit(commit).copy(), null);
    }

    private static ObjectId snapshotUncommitted(Repository repo, RevWalk walk, Base base, String taskId)
            throws IOException, GitTaskException {
        ObjectId head = repo.resolve(Constants.HEAD);
        if (!base.commit.equals(head)) {
            throw new GitTaskException("uncommitted_needs_head_base",
                    "uncommitted changes can only be included when the task starts from the checked-out commit "
                            + (head == null ? "" : head.name()) + "; choose that base or leave them out");
        }
        ObjectId snapshot = UncommittedSnapshot.create(repo, walk.parseCommit(base.commit), taskId);
        if (snapshot == null) {
            return base.commit;
        }
        RefUpdate update = repo.updateRef(TaskRefNames.baseRef(taskId));
        update.setNewObjectId(snapshot);
        update.setForceUpdate(true);
        update.setRefLogMessage("microvm: uncommitted changes for task " + taskId, false);
        RefUpdate.Result result = update.update(walk);
        if (result != RefUpdate.Result.NEW && result != RefUpdate.Result.FORCED && result != RefUpdate.Result.NO_CHANGE) {
            throw new IOException("could not save " + TaskRefNames.baseRef(taskId) + ": " + result);
        }
        return snapshot;
    }

    /** Writes the repository skeleton directly: cheaper than {@code git init} and has no template hooks. */
    private static void initRepository(Repository userRepo, Path gitDir, String taskId, ObjectId agentBase)
            throws IOException {
        for (String dir : List.of("objects/info", "objects/pack", "refs/heads/microvm", "refs/tags", "info")) {
            Files.createDirectories(gitDir.resolve(dir));
        }
        Files.writeString(gitDir.resolve("HEAD"), "ref: " + TaskRefNames.taskBranchRef(taskId) + "\n");
        Files.writeString(gitDir.resolve(TaskRefNames.taskBranchRef(taskId)), agentBase.name() + "\n");
        boolean fileMode = userRepo.getConfig().getBoolean("core", "filemode", true);
        boolean symlinks = userRepo.getConfig().getBoolean("core", "symlinks", true);
        String config = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tlogallrefupdates = true\n"
                + "\tfilemode = " + fileMode + "\n\tsymlinks = " + symlinks + "\n"
                + "[user]\n\tname = microvm task " + taskId + "\n\temail = task-" + taskId + "@microvm.local\n";
        Files.writeString(gitDir.resolve("config"), config, StandardCharsets.UTF_8);
    }

    private void writeWorkingTree(Path workspace, Path gitDir) throws IOException {
        if (preferGitCli && GitCli.isAvailable()) {
            GitCli.runOrThrow(workspace, List.of("read-tree", "--reset", "-u", "HEAD"));
            return;
        }
        try (Repository ws = new FileRepositoryBuilder().setGitDir(gitDir.toFile()).setWorkTree(workspace.toFile())
                .setMustExist(true).build()) {
            DirCache index = ws.lockDirCache();
            DirCacheCheckout checkout = new DirCacheCheckout(ws, index, ws.resolve(Constants.HEAD + "^{tree}"));
            checkout.setFailOnConflict(true);
            checkout.checkout();
        }
    }

    /** Copied secrets such as {@code .env} must not end up in the agent's commits. */
    private static void excludeFromCommits(Path gitDir, List<String> copied) throws IOException {
        if (copied.isEmpty()) {
            return;
        }
        StringBuilder lines = new StringBuilder("# copied from the user's working tree, never committed\n");
        for (String path : copied) {
            lines.append('/').append(path).append('\n');
        }
        Files.writeString(gitDir.resolve("info").resolve("exclude"), lines, StandardCharsets.UTF_8);
    }

    private static void requireEmptyOrAbsent(Path workspace) throws GitTaskException {
        if (!Files.exists(workspace)) {
            return;
        }
        try (Stream<Path> entries = Files.list(workspace)) {
            if (entries.findAny().isPresent()) {
                throw new GitTaskException("workspace_not_empty", "workspace directory is not empty: " + workspace);
            }
        } catch (IOException e) {
            throw new GitTaskException("workspace_failed", "cannot read workspace directory " + workspace, e);
        }
    }
}
