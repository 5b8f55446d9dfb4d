package dev.microvm.orchestrator.git;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.merge.ResolveMerger;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevSort;
import org.eclipse.jgit.revwalk.RevWalk;

/**
 * Replays a task's commits onto another commit entirely in memory, like {@code git rebase}
 * without touching any working tree, index or ref: each non-merge commit's change against its
 * first parent is three-way merged onto the new tip; merge commits and changes that are already
 * present are dropped. New objects go to the object store; nothing refers to them until a ref
 * is moved by the caller.
 */
final class CommitReplay {
    sealed interface Outcome permits Replayed, Conflicted {
    }

    record Replayed(ObjectId tip) implements Outcome {
    }

    record Conflicted(List<String> paths) implements Outcome {
    }

    private CommitReplay() {
    }

    /** The task's commits after {@code from} up to {@code tip}, oldest first. */
    static List<RevCommit> commitsBetween(Repository repo, ObjectId from, ObjectId tip) throws IOException {
        try (RevWalk walk = new RevWalk(repo)) {
            walk.sort(RevSort.TOPO);
            walk.sort(RevSort.REVERSE, true);
            walk.markStart(walk.parseCommit(tip));
            walk.markUninteresting(walk.parseCommit(from));
            List<RevCommit> commits = new ArrayList<>();
            for (RevCommit c : walk) {
                commits.add(c);
            }
            return commits;
        }
    }

    static Outcome replay(Repository repo, List<RevCommit> commits, ObjectId onto) throws IOException {
        try (ObjectInserter inserter = repo.newObjectInserter();
             ObjectReader reader = inserter.newReader();
             RevWalk walk = new RevWalk(reader)) {
            RevCommit current = walk.parseCommit(onto);
            for (RevCommit original : commits) {
                RevCommit commit = walk.parseCommit(original);
                if (commit.getParentCount() != 1) {
                    continue;
                }
                ResolveMerger merger = (ResolveMerger) org.eclipse.jgit.merge.MergeStrategy.RECURSIVE
                        .newMerger(inserter, repo.getConfig());
                merger.setBase(commit.getParent(0));
                if (!merger.merge(current, commit)) {
                    TreeSet<String> paths = new TreeSet<>(merger.getUnmergedPaths());
                    if (merger.getFailingPaths() != null) {
                        paths.addAll(merger.getFailingPaths().keySet());
                    }
                    return new Conflicted(List.copyOf(paths));
                }
                ObjectId tree = merger.getResultTreeId();
                if (tree.equals(current.getTree())) {
                    continue;
                }
                CommitBuilder rewritten = new CommitBuilder();
                rewritten.setTreeId(tree);
                rewritten.setParentId(current);
                rewritten.setAuthor(commit.getAuthorIdent());
                rewritten.setCommitter(new PersonIdent(commit.getCommitterIdent(), Instant.now()));
                rewritten.setMessage(commit.getFullMessage());
                rewritten.setEncoding(commit.getEncoding());
                ObjectId id = inserter.insert(rewritten);
                inserter.flush();
                current = walk.parseCommit(id);
            }
            inserter.flush();
            return new Replayed(current.copy());
        }
    }
}
