package dev.microvm.orchestrator.git;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

/**
 * A throw-away repository next to the user's, borrowing the user's objects through alternates,
 * into which untrusted objects are fetched first. Only after they passed every check are the
 * new object files moved into the user's object store (same file system, so by rename; the pack
 * before its index, so a pack is never visible half-written). A rejected import leaves no trace
 * in the user's repository. The same idea as git's receive quarantine.
 */
final class Quarantine implements AutoCloseable {
    private final Path gitDir;
    private final Path userObjects;
    private final Repository repository;

    private Quarantine(Path gitDir, Path userObjects, Repository repository) {
        this.gitDir = gitDir;
        this.userObjects = userObjects;
        this.repository = repository;
    }

    /**
     * @param anchor commit the bundle may build on; it is the quarantine's only ref, since a
     *               bundle's prerequisites must be reachable from a ref
     */
    static Quarantine create(Repository userRepo, ObjectId anchor) throws IOException {
        Path userObjects = UserRepos.objectsDir(userRepo);
        Path gitDir = userRepo.getCommonDirectory().toPath().resolve("microvm-quarantine-" + UUID.randomUUID());
        Files.createDirectories(gitDir.resolve("objects/info"));
        Files.createDirectories(gitDir.resolve("objects/pack"));
        Files.createDirectories(gitDir.resolve("refs/heads"));
        Files.writeString(gitDir.resolve("refs/heads/quarantine"), anchor.name() + "\n");
        Files.writeString(gitDir.resolve("HEAD"), "ref: refs/heads/quarantine\n");
        Files.writeString(gitDir.resolve("config"), "[core]\n\trepositoryformatversion = 0\n\tbare = true\n");
        ObjectAccess.writeAlternates(gitDir, userObjects.toString());
        Repository repo = new FileRepositoryBuilder().setGitDir(gitDir.toFile()).setBare().setMustExist(true).build();
        return new Quarantine(gitDir, userObjects, repo);
    }

    Repository repository() {
        return repository;
    }

    /** Moves the accepted objects into the user's store. Packs are moved before their indexes. */
    void promote() throws IOException {
        repository.close();
        Path objects = gitDir.resolve("objects");
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(objects)) {
            walk.filter(Files::isRegularFile)
                    .filter(p -> !objects.relativize(p).startsWith("info"))
                    .filter(p -> !p.getFileName().toString().endsWith(".keep"))
                    .forEach(files::add);
        }
        files.sort(Comparator.comparingInt(Quarantine::promotionOrder));
        for (Path file : files) {
            Path target = userObjects.resolve(objects.relativize(file).toString());
            if (Files.exists(target)) {
                continue;
            }
            AtomicFiles.move(file, target, false);
        }
    }

    private static int promotionOrder(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".idx") ? 2 : name.endsWith(".pack") ? 0 : 1;
    }

    @Override
    public void close() throws IOException {
        repository.close();
        dev.microvm.orchestrator.util.FileTrees.delete(gitDir);
    }
}
