package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashSet;
import java.util.Set;
import org.eclipse.jgit.dircache.DirCache;
import org.eclipse.jgit.dircache.DirCacheBuilder;
import org.eclipse.jgit.dircache.DirCacheEntry;
import org.eclipse.jgit.dircache.DirCacheIterator;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.FileTreeIterator;
import org.eclipse.jgit.treewalk.TreeWalk;
import org.eclipse.jgit.treewalk.WorkingTreeIterator;
import org.eclipse.jgit.treewalk.filter.TreeFilter;

/**
 * Records the user's uncommitted changes to tracked files (staged or not) as a commit on top of
 * the checked-out commit, without touching the index, the working tree or any branch. Untracked
 * files are not included. Objects are written to the user's object store; the caller protects
 * the commit with a ref.
 */
final class UncommittedSnapshot {
    static final PersonIdent IDENT = new PersonIdent("microvm-orchestrator", "microvm-orchestrator@localhost");

    private UncommittedSnapshot() {
    }

    /** Returns the snapshot commit, or null when the working tree matches {@code base}. */
    static ObjectId create(Repository repo, RevCommit base, String taskId) throws IOException {
        DirCache index = repo.readDirCache();
        DirCache snapshot = DirCache.newInCore();
        DirCacheBuilder builder = snapshot.builder();
        Set<String> seen = new HashSet<>();
        try (ObjectInserter inserter = repo.newObjectInserter();
             ObjectReader reader = repo.newObjectReader();
             TreeWalk walk = new TreeWalk(repo, reader)) {
            walk.addTree(new DirCacheIterator(index));
            walk.addTree(new FileTreeIterator(repo));
            walk.setFilter(new TrackedOnly());
            walk.setRecursive(true);
            while (walk.next()) {
                DirCacheIterator indexEntry = walk.getTree(0, DirCacheIterator.class);
                WorkingTreeIterator file = walk.getTree(1, WorkingTreeIterator.class);
                String path = walk.getPathString();
                if (indexEntry == null || !seen.add(path)) {
                    continue;
                }
                DirCacheEntry staged = indexEntry.getDirCacheEntry();
                if (file == null) {
                    continue; // deleted in the working tree
                }
                if (staged.getFileMode() == FileMode.GITLINK) {
                    builder.add(copyOf(path, staged.getFileMode(), staged.getObjectId()));
                    continue;
                }
                boolean conflicted = staged.getStage() != DirCacheEntry.STAGE_0;
                if (!conflicted && !file.isModified(staged, true, reader)) {
                    builder.add(copyOf(path, staged.getFileMode(), staged.getObjectId()));
                    continue;
                }
                FileMode mode = file.getEntryFileMode();
                if (mode == FileMode.TREE || mode == FileMode.MISSING) {
                    continue; // a directory now stands where a tracked file was
                }
                ObjectId blob;
                try (InputStream in = file.openEntryStream()) {
                    blob = inserter.insert(Constants.OBJ_BLOB, file.getEntryContentLength(), in);
                }
                builder.add(copyOf(path, mode, blob));
            }
            builder.finish();
            ObjectId tree = snapshot.writeTree(inserter);
            if (tree.equals(base.getTree())) {
                return null;
            }
            CommitBuilder commit = new CommitBuilder();
            commit.setTreeId(tree);
            commit.setParentId(base);
            PersonIdent now = new PersonIdent(IDENT, java.time.Instant.now());
            commit.setAuthor(now);
            commit.setCommitter(now);
            commit.setMessage("Uncommitted changes at the start of task " + taskId + "\n\n"
                    + "Base for the task only; never merged back.\n");
            ObjectId id = inserter.insert(commit);
            inserter.flush();
            return id;
        }
    }

    static RevCommit parse(Repository repo, ObjectId id) throws IOException {
        try (RevWalk walk = new RevWalk(repo)) {
            return walk.parseCommit(id);
        }
    }

    private static DirCacheEntry copyOf(String path, FileMode mode, ObjectId id) {
        DirCacheEntry entry = new DirCacheEntry(path);
        entry.setFileMode(mode);
        entry.setObjectId(id);
        return entry;
    }

    /** Walks only paths the index knows, so ignored trees such as build output are never scanned. */
    private static final class TrackedOnly extends TreeFilter {
        @Override
        public boolean include(TreeWalk walker) {
            return walker.getTree(0, DirCacheIterator.class) != null;
        }

        @Override
        public boolean shouldBeRecursive() {
            return false;
        }

        @Override
        public TreeFilter clone() {
            return this;
        }
    }
}
