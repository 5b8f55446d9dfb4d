package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.util.AtomicFiles;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.RefSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * A host's copies of other hosts' repositories, one repository (with an empty work tree) per {@link RepoKey}, holding
 * only objects shipped to it. Each shipped commit is kept alive by {@code refs/mvo/have/<id>};
 * those refs are what this host tells a home host it already has, so the next shipment carries
 * only what is new. Bundles are plain files, size-capped and fetched with object checking.
 */
public final class ObjectCache {

    public static final String HAVE_PREFIX = "refs/mvo/have/";

    private final Path root;

    public ObjectCache(Path root) {
        this.root = root;
    }

    /** The cache repository of {@code key}, created empty on first use. Blocking. */
    public Path repository(RepoKey key) throws IOException {
        Path tree = workTree(key);
        Path dir = tree.resolve(".git");
        if (!Files.isDirectory(dir.resolve("objects"), LinkOption.NOFOLLOW_LINKS)) {
            AtomicFiles.privateDirectory(root);
            try (Repository repo = new FileRepositoryBuilder().setGitDir(dir.toFile()).setWorkTree(tree.toFile()).build()) {
                repo.create(false);
            }
        }
        return dir;
    }

    /**
     * The (always empty) work tree around the cache repository: the executing host registers it as
     * a local repository, so a shipped task is prepared exactly like a local one.
     */
    public Path workTree(RepoKey key) {
        Path tree = root.resolve(key.home()).resolve(key.alias()).normalize();
        if (!tree.startsWith(root.normalize())) throw new IllegalArgumentException("repository key escapes the cache: " + key);
        return tree;
    }

    public Repository open(RepoKey key) throws IOException {
        return new FileRepositoryBuilder().setGitDir(repository(key).toFile()).setMustExist(true).build();
    }

    /** Commit ids this cache holds for {@code key}. */
    public List<String> haves(RepoKey key) throws IOException {
        try (Repository repo = open(key)) {
            return repo.getRefDatabase().getRefsByPrefix(HAVE_PREFIX).stream().map(Ref::getObjectId).filter(java.util.Objects::nonNull)
                    .map(id -> id.name()).distinct().toList();
        }
    }

    /** Fetches a shipment into the cache ({@code refs/mvo/have/*} only), checking every object. */
    public void receive(RepoKey key, Path bundle, long maxBytes) throws IOException {
        BasicFileAttributes attrs = Files.readAttributes(bundle, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) throw new IOException("a shipment must be a regular file: " + bundle);
        if (attrs.size() > maxBytes) throw new IOException("the shipment is " + attrs.size() + " bytes, above the limit of " + maxBytes);
        try (Repository repo = open(key); Git git = Git.wrap(repo)) {
            git.fetch().setRemote(bundle.toAbsolutePath().toString())
                    .setRefSpecs(new RefSpec("+" + HAVE_PREFIX + "*:" + HAVE_PREFIX + "*"))
                    .setCheckFetchedObjects(true)
                    .setTagOpt(org.eclipse.jgit.transport.TagOpt.NO_TAGS)
                    .call();
        } catch (GitAPIException e) {
            throw new IOException("cannot take the shipment for " + key + " into the object cache: " + e.getMessage(), e);
        }
    }

    /** The ref a home host uses to ship {@code commit}. */
    public static String haveRef(String commit) {
        return HAVE_PREFIX + org.eclipse.jgit.lib.ObjectId.fromString(commit).name();
    }
}
