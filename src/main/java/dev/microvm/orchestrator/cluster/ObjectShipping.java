package dev.microvm.orchestrator.cluster;

import org.eclipse.jgit.lib.NullProgressMonitor;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.transport.BundleWriter;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * Writes the git bundles that carry work between hosts: towards an executing host, the commits a
 * task needs minus everything its object cache already has; back home, the task's commits minus
 * the base the home host already has. Only objects the receiver lacks travel.
 */
public final class ObjectShipping {

    /** What was written: the file, its size, and how many of the receiver's commits were left out as known. */
    public record Shipment(Path file, long bytes, int assumed) {}

    private ObjectShipping() {}

    /**
     * @param refs  ref names to carry and the commits they point at
     * @param haves commits the receiver has; those this repository knows are excluded with all their history
     */
    public static Shipment write(Repository repo, Map<String, ObjectId> refs, Collection<String> haves, Path out) throws IOException {
        BundleWriter writer = new BundleWriter(repo);
        refs.forEach(writer::include);
        int assumed = 0;
        try (RevWalk walk = new RevWalk(repo)) {
            for (String have : haves) {
                ObjectId id;
                try {
                    id = ObjectId.fromString(have);
                } catch (IllegalArgumentException e) {
                    continue; // not a commit id: nothing to assume
                }
                if (!repo.getObjectDatabase().has(id)) continue;
                RevCommit commit = walk.parseCommit(id);
                writer.assume(commit);
                assumed++;
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        try (OutputStream os = Files.newOutputStream(out)) {
            writer.writeBundle(NullProgressMonitor.INSTANCE, os);
        }
        return new Shipment(out, Files.size(out), assumed);
    }
}
