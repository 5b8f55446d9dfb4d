package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.vm.GuestContract;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The channel that takes a repository's granted secrets to its task's setup: two 0600 files in the
 * io share, {@code secrets.env} (every secret the environment names) and {@code agent-secrets.env}
 * (those granted {@code --agent}). The caller makes them root-only in the guest's view; the runner
 * reads them as root and unlinks them before anything runs as the agent user, then passes the
 * values to setup through its environment only. Never argv, the kernel command line or the console.
 */
public final class GuestSecretFiles {

    private GuestSecretFiles() {}

    /** @return the files written (none when there are no secrets) */
    public static List<Path> write(Path ioDir, List<RepoSecrets.Grant> grants) throws IOException {
        List<Path> written = new ArrayList<>();
        if (grants.isEmpty()) return written;
        written.add(writeOne(ioDir.resolve(GuestContract.SECRETS_ENV), grants));
        List<RepoSecrets.Grant> agent = grants.stream().filter(RepoSecrets.Grant::agent).toList();
        if (!agent.isEmpty()) written.add(writeOne(ioDir.resolve(GuestContract.AGENT_SECRETS_ENV), agent));
        return written;
    }

    /**
     * Deletes the files if the runner has not: after the VM stopped, or when it never started. The
     * host never leaves a secret in a task's directory.
     */
    public static void remove(Path ioDir) {
        for (String f : List.of(GuestContract.SECRETS_ENV, GuestContract.AGENT_SECRETS_ENV)) {
            Path p = ioDir.resolve(f);
            // a directory a guest put there instead holds no secret; it goes with the io directory
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) continue;
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete the secrets file " + p, e);
            }
        }
    }

    private static Path writeOne(Path file, List<RepoSecrets.Grant> grants) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (RepoSecrets.Grant g : grants) sb.append(g.name()).append("='").append(g.value().reveal().replace("'", "'\\''")).append("'\n");
        AtomicFiles.write(file, sb.toString().getBytes(StandardCharsets.UTF_8), "rw-------");
        return file;
    }
}
