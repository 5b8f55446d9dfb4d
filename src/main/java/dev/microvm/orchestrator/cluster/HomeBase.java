package dev.microvm.orchestrator.cluster;

import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * On the home host: the commit a shipped task starts from (and the branch its work belongs on), and
 * the bundle that carries that commit to another host minus what the other host already has.
 * Resolved here, once, so the executing host runs on an explicit commit, never on a name.
 */
final class HomeBase {

    record Base(String commit, String branch) {}

    private HomeBase() {}

    /** Same rules as a local task: no base means the checked-out branch; a branch name wins over a commit id. */
    static Base resolve(Path userRepo, String baseRef) throws IOException {
        try (Repository repo = open(userRepo)) {
            if (baseRef == null || baseRef.isBlank()) {
                Ref head = repo.exactRef(Constants.HEAD);
                if (head == null || head.getObjectId() == null) {
                    throw new IllegalArgumentException("the repository has no commits yet; commit something first");
                }
                String branch = head.isSymbolic() && head.getTarget().getName().startsWith(Constants.R_HEADS)
                        ? Repository.shortenRefName(head.getTarget().getName()) : null;
                return new Base(commitOf(repo, head.getObjectId()), branch);
            }
            String branchName = baseRef.startsWith(Constants.R_HEADS) ? baseRef : Constants.R_HEADS + baseRef;
            Ref branch = repo.exactRef(branchName);
            if (branch != null && branch.getObjectId() != null) {
                return new Base(commitOf(repo, branch.getObjectId()), Repository.shortenRefName(branchName));
            }
            ObjectId commit = repo.resolve(baseRef + "^{commit}");
            if (commit == null) throw new IllegalArgumentException("no branch or commit named '" + baseRef + "' in " + userRepo);
            return new Base(commit.name(), null);
        }
    }

    /** The bundle carrying {@code commit} as {@code refs/mvo/have/<commit>}, minus the receiver's {@code haves}. */
    static byte[] shipment(Path userRepo, String commit, Collection<?> haves, long maxBytes) throws IOException {
        Path file = Files.createTempFile("mvo-shipment-", ".bundle");
        try (Repository repo = open(userRepo)) {
            ObjectShipping.Shipment s = ObjectShipping.write(repo, Map.of(ObjectCache.haveRef(commit), ObjectId.fromString(commit)),
                    haves.stream().map(String::valueOf).toList(), file);
            if (s.bytes() > maxBytes) throw new IOException("the shipment is " + s.bytes() + " bytes, above max_bundle_bytes " + maxBytes);
            return Files.readAllBytes(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static String commitOf(Repository repo, ObjectId id) throws IOException {
        ObjectId c = repo.resolve(id.name() + "^{commit}");
        if (c == null) throw new IllegalArgumentException(id.name() + " is not a commit");
        return c.name();
    }

    private static Repository open(Path userRepo) throws IOException {
        FileRepositoryBuilder b = new FileRepositoryBuilder().setWorkTree(userRepo.toFile()).setMustExist(true);
        b.setup();
        return b.build();
    }
}
