package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.HostLock;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.nio.charset.StandardCharsets;
import org.eclipse.jgit.internal.submodule.SubmoduleValidator;
import org.eclipse.jgit.lib.GitmoduleEntry;
import org.eclipse.jgit.errors.MissingBundlePrerequisiteException;
import org.eclipse.jgit.errors.MissingObjectException;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.NullProgressMonitor;
import org.eclipse.jgit.lib.ObjectChecker;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.ObjectWalk;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevObject;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.transport.FetchConnection;
import org.eclipse.jgit.transport.PackLock;
import org.eclipse.jgit.transport.TransportBundleStream;
import org.eclipse.jgit.transport.URIish;

/**
 * Brings a guest's work home. The guest hands over a git bundle (a plain file); it is opened
 * without following links, read through a size cap, its objects checked one by one (including
 * paths such as {@code .git} that would be dangerous on checkout), its history checked to be
 * complete and to build on the task's base, and its tip saved under {@code refs/tasks/<id>}
 * before anything else happens. No other ref of the user's repository is touched; refs the
 * bundle advertises besides the task's tip are ignored. Objects are fetched into a
 * {@link Quarantine} and reach the user's object store only once every check passed.
 */
public final class BundleImporter {
    private static final boolean HOST_IS_MAC = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("mac");

    public ImportResult importBundle(Path userRepo, Path bundleFile, String taskId, String agentBaseCommit,
                                     long maxBytes) throws GitTaskException {
        TaskRefNames.requireValidTaskId(taskId);
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(bundleFile, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return ImportResult.noCommits();
        } catch (IOException e) {
            throw new GitTaskException("bundle_not_regular_file", "cannot inspect bundle " + bundleFile + ": " + e.getMessage(), e);
        }
        if (!attrs.isRegularFile()) {
            throw new GitTaskException("bundle_not_regular_file",
                    "the task's bundle is not a regular file (symbolic link, FIFO or directory); refusing to read it");
        }
        if (attrs.size() > maxBytes) {
            throw new GitTaskException("bundle_too_large",
                    "the task's bundle is " + attrs.size() + " bytes, above the limit of " + maxBytes);
        }
        try (Repository repo = UserRepos.open(userRepo);
             SeekableByteChannel channel = Files.newByteChannel(bundleFile,
                Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
             InputStream in = new CappedInputStream(new BufferedInputStream(Channels.newInputStream(
                     noFollow(channel, bundleFile))), maxBytes)) {
            return fetch(repo, in, taskId, agentBaseCommit);
        } catch (CappedInputStream.LimitExceeded e) {
            throw new GitTaskException("bundle_too_large", "the task's bundle grew beyond " + maxBytes + " bytes while reading", e);
        } catch (IOException e) {
            throw new GitTaskException("bundle_corrupt", "cannot read the task's bundle: " + e.getMessage(), e);
        }
    }

    /** Re-checks the opened file so a link swapped in after the first check is still refused. */
    private static SeekableByteChannel noFollow(SeekableByteChannel channel, Path file) throws IOException {
        BasicFileAttributes again = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!again.isRegularFile()) {
            throw new IOException("bundle changed while opening");
        }
        return channel;
    }

    private static ImportResult fetch(Repository userRepo, InputStream in, String taskId, String agentBaseCommit)
            throws GitTaskException, IOException {
        ObjectId agentBase = ObjectId.fromString(agentBaseCommit);
        try (HostLock.Held lock = UserRepos.lock(userRepo); Quarantine quarantine = Quarantine.create(userRepo, agentBase)) {
            Repository repo = quarantine.repository();
            ObjectChecker checker = new ObjectChecker().setSafeForMacOS(HOST_IS_MAC);
            ObjectId tip = download(repo, in, taskId, checker);
            try (RevWalk walk = new RevWalk(repo)) {
                RevObject object = walk.parseAny(tip);
                if (!(object instanceof RevCommit tipCommit)) {
                    throw new GitTaskException("bundle_unexpected_objects", "the bundle's tip is not a commit");
                }
                RevCommit base = walk.parseCommit(agentBase);
                if (!walk.isMergedInto(base, tipCommit)) {
                    throw new GitTaskException("bundle_unexpected_objects",
                            "the bundle's commits do not build on the task's base " + agentBaseCommit);
                }
            }
            int commits = verifyComplete(repo, tip, agentBase);
            verifyGitmodules(repo, checker);
            if (tip.equals(agentBase)) {
                return ImportResult.noCommits();
            }
            quarantine.promote();
            saveTaskRef(userRepo, taskId, tip);
            return new ImportResult(true, tip.name(), commits, TaskRefNames.taskRef(taskId));
        }
    }

    /** Fetches the bundle's objects (checked one by one) into the quarantine; returns the task's tip. */
    private static ObjectId download(Repository repo, InputStream in, String taskId, ObjectChecker checker)
            throws GitTaskException {
        TransportBundleStream transport = new TransportBundleStream(repo, new URIish().setPath("task-" + taskId + ".bundle"), in);
        transport.setObjectChecker(checker);
        FetchConnection connection = null;
        try {
            connection = transport.openFetch();
            Ref tipRef = chooseTip(connection.getRefs(), taskId);
            connection.fetch(NullProgressMonitor.INSTANCE, List.of(tipRef), Set.of());
            return tipRef.getObjectId();
        } catch (org.eclipse.jgit.errors.TransportException e) {
            throw classify(e);
        } finally {
            if (connection != null) {
                Collection<PackLock> locks = connection.getPackLocks();
                connection.close();
                for (PackLock lock : locks) {
                    try {
                        lock.unlock();
                    } catch (IOException ignored) {
                        // the quarantine is deleted anyway
                    }
                }
            }
            transport.close();
        }
    }

    /** git refuses .gitmodules with option-like URLs or paths escaping the tree; so do we (same rules as git fsck). */
    private static void verifyGitmodules(Repository repo, ObjectChecker checker) throws GitTaskException, IOException {
        for (GitmoduleEntry entry : checker.getGitsubmodules()) {
            String content = new String(repo.open(entry.getBlobId()).getCachedBytes(1 << 20), StandardCharsets.UTF_8);
            try {
                SubmoduleValidator.assertValidGitModulesFile(content);
            } catch (SubmoduleValidator.SubmoduleValidationException e) {
                throw new GitTaskException("bundle_unexpected_objects",
                        "the bundle carries a dangerous .gitmodules file: " + e.getMessage(), e);
            }
        }
    }

    private static Ref chooseTip(Collection<Ref> advertised, String taskId) throws GitTaskException {
        Ref head = null;
        Ref taskBranch = null;
        for (Ref ref : advertised) {
            if (ref.getName().equals(Constants.HEAD)) {
                head = ref;
            } else if (ref.getName().equals(TaskRefNames.taskBranchRef(taskId))) {
                taskBranch = ref;
            }
        }
        if (head != null) {
            return head;
        }
        if (taskBranch != null) {
            return taskBranch;
        }
        if (advertised.size() == 1) {
            return advertised.iterator().next();
        }
        throw new GitTaskException("bundle_unexpected_refs",
                "the bundle must carry HEAD or " + TaskRefNames.taskBranchRef(taskId) + "; it carries "
                        + advertised.stream().map(Ref::getName).toList());
    }

    /** Every object reachable from the tip but not from the base must now be present; returns the commit count. */
    private static int verifyComplete(Repository repo, ObjectId tip, ObjectId agentBase) throws GitTaskException, IOException {
        try (ObjectWalk walk = new ObjectWalk(repo)) {
            walk.markStart(walk.parseAny(tip));
            walk.markUninteresting(walk.parseAny(agentBase));
            int commits = 0;
            while (walk.next() != null) {
                commits++;
            }
            RevObject object;
            while ((object = walk.nextObject()) != null) {
                repo.getObjectDatabase().open(object).getType();
            }
            return commits;
        } catch (MissingObjectException e) {
            throw new GitTaskException("bundle_corrupt", "the bundle's history is incomplete: missing " + e.getObjectId().name(), e);
        }
    }

    private static void saveTaskRef(Repository repo, String taskId, ObjectId tip) throws GitTaskException, IOException {
        String name = TaskRefNames.taskRef(taskId);
        RefUpdate update = repo.updateRef(name);
        Ref existing = repo.exactRef(name);
        update.setExpectedOldObjectId(existing == null ? ObjectId.zeroId() : existing.getObjectId());
        update.setNewObjectId(tip);
        update.setRefLogMessage("microvm: task " + taskId + " imported", false);
        RefUpdate.Result result = update.update();
        switch (result) {
            case NEW, FAST_FORWARD, NO_CHANGE -> {
            }
            default -> throw new GitTaskException("task_ref_conflict", name + " already holds other commits ("
                    + result + "); they were kept, the bundle was not applied");
        }
    }

    private static GitTaskException classify(org.eclipse.jgit.errors.TransportException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof MissingBundlePrerequisiteException) {
                return new GitTaskException("bundle_missing_prerequisite",
                        "the bundle needs commits this repository does not have: " + e.getMessage(), e);
            }
            if (t instanceof CappedInputStream.LimitExceeded) {
                return new GitTaskException("bundle_too_large", "the task's bundle is too large", e);
            }
        }
        return new GitTaskException("bundle_corrupt", "the task's bundle was rejected: " + describe(e), e);
    }

    private static String describe(Throwable e) {
        StringBuilder text = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (!text.isEmpty()) {
                text.append(": ");
            }
            text.append(t.getMessage());
        }
        return text.toString();
    }
}
