package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.git.BundleImporter;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.git.ImportResult;
import dev.microvm.orchestrator.git.MergeBack;
import dev.microvm.orchestrator.git.MergeRequest;
import dev.microvm.orchestrator.git.MergeStrategy;
import dev.microvm.orchestrator.git.TaskDiff;
import dev.microvm.orchestrator.git.TaskRefs;
import dev.microvm.orchestrator.secrets.GuestFile;
import dev.microvm.orchestrator.secrets.GuestSecretFiles;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.util.FileTrees;
import dev.microvm.orchestrator.vm.GuestContract;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/** {@link ResultOperations} with JGit and the guest-output reader: nothing a guest wrote is followed or executed. */
public final class GitResultOperations implements ResultOperations {

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final UnaryOperator<String> redactor;
    private final WarmSlots warm;

    GitResultOperations(StatePaths paths, OrchestratorConfig config, TaskStore store, UnaryOperator<String> redactor, WarmSlots warm) {
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.redactor = redactor;
        this.warm = warm;
    }

    @Override
    public JsonObject collect(String taskId) {
        TaskRecord r = KnownTasks.load(store, taskId);
        Path io = paths.taskIo(r.id());
        Path out = io.resolve(GuestContract.OUT_DIR);
        JsonObject reply = new JsonObject();
        try {
            GuestSecretFiles.remove(io); // the runner deletes them first thing; a guest that never ran it did not
            if (Files.isSymbolicLink(out)) throw new IOException("the guest replaced its output directory with a link");
            Integer exitCode = new GuestOutputReader(io, 64).readIfPresent(GuestContract.OUT_EXIT_CODE)
                    .map(f -> f.text().trim()).filter(s -> s.matches("-?\\d{1,9}")).map(Integer::parseInt).orElse(null);
            reply.put("exit_code", exitCode);
            String agentTail = new GuestOutputReader(io, 256 * 1024).readTailIfPresent(GuestContract.OUT_AGENT_LOG)
                    .map(GuestFile::text).orElse("");
            reply.put("result", AgentResult.parse(agentTail, redactor));
            String runnerError = new GuestOutputReader(io, 4096).readIfPresent(GuestContract.OUT_AGENT_ERROR).map(GuestFile::text).orElse(null);
            String agentError = AgentExit.describe(exitCode, runnerError == null ? null : redactor.apply(runnerError),
                    r.options().agentCommand() == null ? VmSpecs.DEFAULT_AGENT : "agent_command", redactor.apply(agentTail));
            if (agentError != null) reply.put("agent_error", agentError);
            boolean done = new GuestOutputReader(io, 0).isReadable(GuestContract.OUT_DONE);
            reply.put("finished", done);
            String agentBase = r.prepared() == null ? null : r.prepared().getString("agent_base_commit");
            Path bundle = io.resolve(GuestContract.OUT_BUNDLE);
            if (agentBase != null && Files.exists(bundle, LinkOption.NOFOLLOW_LINKS)) {
                ImportResult imported = new BundleImporter().importBundle(Path.of(r.repoPath()), bundle, r.id(), agentBase, config.maxBundleBytes());
                reply.put("commits", imported.commitCount()).put("task_tip", imported.tip()).put("task_ref", imported.taskRef());
            } else {
                reply.put("commits", 0);
            }
            Optional<JsonObject> setup = SetupResult.parse(new GuestOutputReader(io, 256).readIfPresent(GuestContract.OUT_SETUP_RESULT)
                    .map(GuestFile::text), SetupResult.commands(r.prepared()));
            setup = SetupResult.withNixDevelop(setup, new GuestOutputReader(io, 256).readIfPresent(GuestContract.OUT_NIX_DEVELOP_RESULT).map(GuestFile::text));
            setup.ifPresent(s -> reply.put("setup", s));
            if (warm.recordIfSetupSucceeded(r, setup)) reply.put("setup_key_recorded", true);
            boolean setupFailed = setup.map(s -> s.containsKey("error")).orElse(false);
            if (done && setupFailed) {
                reply.put("reason", FailureReason.SETUP_FAILED.wireName()).put("error", redactor.apply(setup.get().getString("error")));
            } else if (!done) {
                reply.put("reason", "guest_incomplete").put("error",
                        "the VM stopped before the task runner finished; see get_task_logs (stream console)");
            } else if (exitCode == null) {
                // the runner writes exit_code before done; without it the agent's outcome is unknown, not success
                reply.put("reason", "guest_output_invalid").put("error",
                        "the guest reported done without a readable exit code (out/exit_code missing, not a regular file or not a number)");
            }
        } catch (GitTaskException e) {
            reply.put("reason", e.reason()).put("error", e.getMessage());
        } catch (IOException e) {
            reply.put("reason", "guest_output_invalid").put("error", e.getMessage());
        }
        return reply;
    }

    @Override
    public JsonObject merge(String taskId, String strategy) {
        TaskRecord r = KnownTasks.load(store, taskId);
        JsonObject p = r.prepared();
        if (p == null) throw new WorkerFailure(FailureReason.NOTHING_TO_MERGE, "task " + r.id() + " never prepared a workspace; there is nothing to merge");
        try {
            return new MergeBack().merge(new MergeRequest(Path.of(r.repoPath()), r.id(), MergeStrategy.parse(strategy),
                    p.getString("base_branch"), p.getString("base_commit"), p.getString("agent_base_commit"))).toJson();
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        }
    }

    @Override
    public JsonObject diff(String taskId, long offset, int limit) {
        TaskRecord r = KnownTasks.load(store, taskId);
        JsonObject p = r.prepared();
        if (p == null) throw new WorkerFailure(FailureReason.NOTHING_TO_DIFF, "task " + r.id() + " has no workspace base; nothing to diff");
        try {
            return new TaskDiff().diff(Path.of(r.repoPath()), r.id(), p.getString("agent_base_commit"), offset,
                    Math.max(1, Math.min(512 * 1024, limit))).toJson().put("task_id", r.id());
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        }
    }

    @Override
    public JsonObject cleanup(String taskId, boolean deleteRef) {
        TaskRecord r = KnownTasks.load(store, taskId);
        try {
            List<String> removed = new ArrayList<>(TaskRefs.cleanup(Path.of(r.repoPath()), r.id(), deleteRef));
            for (Path dir : List.of(paths.taskWorkspace(r.id()), paths.taskIo(r.id()), paths.runDir().resolve(r.id()))) {
                if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    FileTrees.delete(dir);
                    removed.add(paths.root().relativize(dir).toString());
                }
            }
            return new JsonObject().put("success", true).put("task_id", r.id()).put("removed", new JsonArray(removed));
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        } catch (IOException e) {
            throw new WorkerFailure(FailureReason.CLEANUP_FAILED, e.getMessage(), e);
        }
    }
}
