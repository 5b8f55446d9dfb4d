package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.git.CommitFiles;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.git.WorkspacePreparer;
import dev.microvm.orchestrator.secrets.GuestSecretFiles;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.MappedOwnership;
import dev.microvm.orchestrator.vm.TaskIo;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The environment a task runs with: the host's override ({@code allow --environment}) if it set
 * one, else {@code .microvm/environment.json} as committed at the commit the task starts from on
 * the user's side — for a follow-up task (continue_task) the original task's, never a commit the
 * agent made. Refused (no VM starts) when it is malformed or names a secret the host has not
 * granted to the repository.
 */
final class TaskEnvironments {

    /** Where an environment came from: {@code host}, {@code repository} or {@code none}; {@code commit} it was read at. */
    record Resolved(Environment environment, String source, String commit, List<RepoSecrets.Grant> secrets, NixDevelop nix) {
        /** What the task record shows: the environment itself (names, never secret values), its hash and source. */
        JsonObject toJson() {
            JsonObject j = new JsonObject().put("source", source).put("commit", commit).put("sha256", environment.sha256())
                    .put("value", environment.toJson()).put("nix_develop", nix.toJson());
            if ("repository".equals(source)) j.put("file", Environment.FILE);
            return j;
        }
    }

    private final HostEnvironments host;
    private final RepoSecrets secrets;
    private final TaskStore store;
    private final Supplier<Optional<GuestImage>> image;

    /** @param image the guest image tasks boot (whether it offers Nix decides whether nix develop can run) */
    TaskEnvironments(HostEnvironments host, RepoSecrets secrets, TaskStore store, Supplier<Optional<GuestImage>> image) {
        this.host = host;
        this.secrets = secrets;
        this.store = store;
        this.image = image;
    }

    /** @param baseCommit the commit the task starts from on the user's side (prepared base_commit) */
    Resolved resolve(TaskRecord r, String baseCommit) {
        String commit = originalBase(r).orElse(baseCommit);
        Environment env;
        String source;
        try {
            Optional<Environment> own = host.get(r.repo());
            if (own.isPresent()) {
                env = own.get();
                source = "host";
            } else {
                Optional<String> text = CommitFiles.read(Path.of(r.repoPath()), commit, Environment.FILE);
                env = text.map(t -> Environment.parse(t, Environment.FILE + " at commit " + abbrev(commit) + " of repository " + r.repo()))
                        .orElse(Environment.none());
                source = text.isPresent() ? "repository" : "none";
            }
            String where = "commit " + abbrev(commit) + " of repository " + r.repo();
            NixDevelop nix = NixDevelop.decide(env, CommitFiles.read(Path.of(r.repoPath()), commit, NixDevelop.FLAKE), image, where);
            return new Resolved(env, source, commit, secrets.release(r.repo(), env.secrets()), nix);
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        } catch (IllegalArgumentException e) {
            throw new WorkerFailure(FailureReason.ENVIRONMENT_INVALID, e.getMessage());
        }
    }

    /**
     * The environment's files in the task's io share (see {@link GuestContract}). With
     * {@code mappedOwnership} (QEMU 9p mapped-xattr) the secrets' files are the guest root's alone —
     * owner 0, mode 0600 — so the agent user could not read them even before the runner unlinks them.
     */
    static void write(Path io, Resolved environment, boolean mappedOwnership) throws IOException {
        TaskIo.writeEnvironment(io, environment.environment().setup(), environment.environment().env());
        for (Path secretFile : GuestSecretFiles.write(io, environment.secrets())) {
            if (mappedOwnership) MappedOwnership.stamp(secretFile, 0, 0);
        }
    }

    /**
     * The check run_task and continue_task make before a task exists: {@link #resolve} at the commit
     * the task's base names now (for a follow-up, the original task's). Empty when the base names no
     * commit: prepare refuses that task with the reason. Prepare resolves again, since the user's
     * branch may move in between.
     */
    Optional<Resolved> check(TaskRecord r) {
        try {
            Optional<String> base = originalBase(r);
            if (base.isEmpty()) base = WorkspacePreparer.baseCommit(Path.of(r.repoPath()), r.options().baseRef());
            return base.map(commit -> resolve(r, commit));
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        }
    }

    /**
     * A follow-up task starts from refs/tasks/&lt;parent&gt;, the agent's commits: its environment is read
     * where the original task's was.
     */
    private Optional<String> originalBase(TaskRecord r) {
        if (r.parentTaskId() == null || !("refs/tasks/" + r.parentTaskId()).equals(r.options().baseRef())) return Optional.empty();
        return store.load(r.parentTaskId()).map(TaskRecord::prepared).map(p -> {
            JsonObject env = p.getJsonObject("environment");
            return env != null && env.getString("commit") != null ? env.getString("commit") : p.getString("base_commit");
        });
    }

    private static String abbrev(String commit) {
        return commit.length() > 12 ? commit.substring(0, 12) : commit;
    }
}
