package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.eclipse.jgit.dircache.DirCache;
import org.eclipse.jgit.dircache.DirCacheEntry;
import org.eclipse.jgit.dircache.DirCacheIterator;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.treewalk.FileTreeIterator;
import org.eclipse.jgit.treewalk.TreeWalk;
import org.eclipse.jgit.treewalk.WorkingTreeIterator;
import org.eclipse.jgit.treewalk.filter.PathFilterGroup;

/**
 * Finds which of the given paths carry a local change: staged, modified, deleted, or an
 * untracked file standing where the merge wants to write. Stricter than git's own checkout
 * rules, which silently re-create a locally deleted file; a deletion is a change too.
 */
final class LocalChanges {
    private LocalChanges() {
    }

    static List<String> among(Repository repo, DirCache index, ObjectId headTree, Collection<String> paths)
            throws IOException {
        List<String> dirty = new ArrayList<>();
        if (paths.isEmpty()) {
            return dirty;
        }
        try (TreeWalk walk = new TreeWalk(repo)) {
            walk.addTree(headTree);
            walk.addTree(new DirCacheIterator(index));
            walk.addTree(new FileTreeIterator(repo));
            walk.setFilter(PathFilterGroup.createFromStrings(paths));
            walk.setRecursive(true);
            while (walk.next()) {
                if (!paths.contains(walk.getPathString())) {
                    continue;
                }
                DirCacheIterator staged = walk.getTree(1, DirCacheIterator.class);
                WorkingTreeIterator file = walk.getTree(2, WorkingTreeIterator.class);
                boolean inHead = walk.getFileMode(0) != FileMode.MISSING;
                boolean inIndex = staged != null;
                boolean stagedMatchesHead = inHead == inIndex
                        && (!inHead || (walk.idEqual(0, 1) && walk.getRawMode(0) == walk.getRawMode(1)));
                boolean fileMatchesIndex;
                if (!inIndex) {
                    fileMatchesIndex = file == null;
                } else {
                    DirCacheEntry entry = staged.getDirCacheEntry();
                    fileMatchesIndex = file != null && entry.getStage() == DirCacheEntry.STAGE_0
                            && !file.isModified(entry, true, walk.getObjectReader());
                }
                if (!stagedMatchesHead || !fileMatchesIndex) {
                    dirty.add(walk.getPathString());
                }
            }
        }
        return dirty;
    }
}
