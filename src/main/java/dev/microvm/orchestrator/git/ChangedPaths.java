package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jgit.diff.DiffEntry;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;

/** Paths that differ between two commits. */
final class ChangedPaths {
    private ChangedPaths() {
    }

    static List<String> between(Repository repo, ObjectId from, ObjectId to) throws IOException {
        try (RevWalk walk = new RevWalk(repo); TreeWalk tw = new TreeWalk(repo)) {
            tw.addTree(walk.parseCommit(from).getTree());
            tw.addTree(walk.parseCommit(to).getTree());
            tw.setRecursive(true);
            List<String> paths = new ArrayList<>();
            for (DiffEntry entry : DiffEntry.scan(tw)) {
                paths.add(entry.getChangeType() == DiffEntry.ChangeType.DELETE ? entry.getOldPath() : entry.getNewPath());
            }
            return paths;
        }
    }
}
