package dev.microvm.orchestrator.worker;

import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the object directory of a user's repository (also for linked worktrees). */
final class UserObjects {

    private UserObjects() {}

    static Path directory(Path userRepo) throws IOException {
        FileRepositoryBuilder b = new FileRepositoryBuilder().setWorkTree(userRepo.toFile()).setMustExist(true);
        b.setup();
        Path objects = b.getObjectDirectory().toPath().toAbsolutePath().normalize();
        if (!Files.isDirectory(objects)) throw new IOException("no object directory at " + objects);
        return objects.toRealPath();
    }
}
