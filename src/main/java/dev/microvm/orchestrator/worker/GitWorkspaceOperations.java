package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.git.PrepareRequest;
import dev.microvm.orchestrator.git.PreparedWorkspace;
import dev.microvm.orchestrator.git.WorkspacePreparer;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.GuestCredentialFile;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.FileTrees;
import dev.microvm.orchestrator.vm.GuestApiListener;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.MappedOwnership;
import dev.microvm.orchestrator.vm.TaskIo;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;

/** {@link WorkspaceOperations} with JGit: the workspace from the user's repository, the task's inputs in its io share. */
public final class GitWorkspaceOperations implements WorkspaceOperations {

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final HypervisorDriver driver;
    private final VmSpecs specs;
    private final Supplier<Optional<Credential>> credentials;
    private final TaskEnvironments environments;
    private final WarmSlots warm;

    GitWorkspaceOperations(StatePaths paths, OrchestratorConfig config, TaskStore store, HypervisorDriver driver, VmSpecs specs,
                           Supplier<Optional<Credential>> credentials, TaskEnvironments environments, WarmSlots warm) {
        this.environments = environments;
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.driver = driver;
        this.specs = specs;
        this.credentials = credentials;
        this.warm = warm;
    }

    @Override
    public JsonObject prepare(String taskId, Optional<ProxyRoute> proxy, int egressPort) {
        TaskRecord r = KnownTasks.load(store, taskId);
        Path userRepo = Path.of(r.repoPath());
        Path workspace = paths.taskWorkspace(r.id());
        try {
            FileTrees.delete(workspace);
            Path objects = UserObjects.directory(userRepo);
            // the user's objects are shared read-only where the driver can (alternates); elsewhere they are cloned
            String seenByAgent = driver.capabilities().readOnlyShares()
                    ? driver.guestPath(new VmSpec.Share(objects, GuestContract.TAG_OBJECTS, true)) : null;
            Optional<GuestImage> image = specs.guestImage();
            if (r.options().agentCommand() == null && image.isPresent() && image.get().agent(VmSpecs.DEFAULT_AGENT).isEmpty()) {
                throw new WorkerFailure(FailureReason.AGENT_NOT_FOUND, "agent `" + VmSpecs.DEFAULT_AGENT + "` not found in guest image " + image.get().dir()
                        + " (its manifest lists " + image.get().agents() + "); build the agent image with scripts/build-guest.sh agent, "
                        + "or give the task an agent_command");
            }
            PreparedWorkspace prepared = new WorkspacePreparer().prepare(new PrepareRequest(userRepo, workspace,
                    r.options().baseRef(), r.options().includeUncommitted(), r.options().untrackedPatterns(), seenByAgent, r.id()));
            if (image.isPresent() && driver.capabilities().mapsShareOwnership()) {
                // the agent is an unprivileged guest user and must own the workspace it edits
                MappedOwnership.stamp(workspace, image.get().agentUser().uid(), image.get().agentUser().gid());
            }
            int proxyPort = proxy.map(ProxyRoute::port).orElse(0);
            VmSpec probeSpec = specs.specFor(r.withPrepared(new JsonObject().put("proxy_port", proxyPort).put("egress_port", egressPort)),
                    specs.network(r, proxyPort, egressPort));
            Map<String, String> env = guestEnvironment(r, proxy, probeSpec);
            // where the proxy must also listen for this guest (opened once the VM runs: TaskStart)
            JsonObject apiListener = proxy.isPresent() ? driver.apiListener(probeSpec).map(GuestApiListener::toJson).orElse(null) : null;
            env.put(GuestContract.ENV_BASE_COMMIT, prepared.agentBaseCommit());
            image.ifPresent(i -> env.put(GuestContract.ENV_IMAGE_VERSION, i.imageVersion()));
            TaskEnvironments.Resolved environment = environments.resolve(r, prepared.baseCommit());
            // warm slot: the cache image and whether setup may be skipped (its inputs as the workspace holds them)
            WarmSlots.Plan slotPlan = warm.plan(r, environment.environment(), environment.nix().enabled(), prepared.agentBaseCommit(), image);
            env.putAll(slotPlan.env());
            if (environment.nix().enabled()) env.put(GuestContract.ENV_NIX_DEVELOP, "1");
            FileTrees.delete(paths.taskIo(r.id()));
            TaskIo.write(paths.taskIo(r.id()), env, r.description());
            if (proxy.isPresent()) {
                AtomicFiles.write(paths.taskProxyToken(r.id()), proxy.get().token().getBytes(StandardCharsets.UTF_8), "rw-------");
            }
            if ("file".equals(config.credentialMode())) writeGuestCredential(r);
            TaskEnvironments.write(paths.taskIo(r.id()), environment, image.isPresent() && driver.capabilities().mapsShareOwnership());
            return new JsonObject().put("environment", environment.toJson()).put("base_commit", prepared.baseCommit()).put("base_branch", baseBranch(r, prepared))
                    .put("agent_base_commit", prepared.agentBaseCommit()).put("method", prepared.method())
                    .put("shared_objects_dir", prepared.sharedObjectsDir() == null ? null : prepared.sharedObjectsDir().toString())
                    .put("copied_untracked", new JsonArray(prepared.copiedUntracked()))
                    .put("proxy_port", proxyPort).put("egress_port", egressPort).put("api_listener", apiListener)
                    .mergeIn(slotPlan.prepared());
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        } catch (IOException e) {
            throw new WorkerFailure(FailureReason.PREPARE_FAILED, "cannot prepare the workspace: " + e.getMessage(), e);
        }
    }

    @Override
    public JsonObject checkEnvironment(TaskRecord queued) {
        return environments.check(queued).map(e -> new JsonObject().put("environment", e.toJson())).orElseGet(JsonObject::new);
    }

    /** The runner's environment: task id, agent, timeout, and the guest's routes to the proxies. */
    private Map<String, String> guestEnvironment(TaskRecord r, Optional<ProxyRoute> proxy, VmSpec probeSpec) {
        Map<String, String> env = new TreeMap<>(driver.guestEnvironment(probeSpec));
        Optional<String> egressUrl = driver.egressProxyUrlForGuest(probeSpec);
        if (egressUrl.isPresent()) {
            // allowlist: every client that honours the usual variables goes through the egress proxy,
            // except to the credential proxy, which is a channel of its own
            for (String k : List.of("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")) env.put(k, egressUrl.get());
            String direct = driver.apiBaseUrlForGuest(probeSpec).map(u -> URI.create(u).getHost() + ",").orElse("") + "localhost,127.0.0.1";
            env.put("NO_PROXY", direct);
            env.put("no_proxy", direct);
        }
        if (proxy.isPresent()) {
            // the guest gets the proxy's address and a placeholder; the real credential stays on the host
            String baseUrl = driver.apiBaseUrlForGuest(probeSpec)
                    .orElseThrow(() -> new WorkerFailure(FailureReason.NO_API_ROUTE, "the " + driver.name() + " driver offers the guest no route to the API proxy"));
            env.put("ANTHROPIC_BASE_URL", baseUrl);
            env.put("ANTHROPIC_API_KEY", proxy.get().token());
            env.put("DISABLE_AUTOUPDATER", "1");
            env.put("DISABLE_TELEMETRY", "1");
            env.put("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        }
        int timeout = r.options().timeoutSeconds() != null ? r.options().timeoutSeconds() : config.taskTimeoutSeconds();
        env.put(GuestContract.ENV_TASK_ID, r.id());
        env.put(GuestContract.ENV_AGENT_CMD, r.options().agentCommand() == null ? "" : r.options().agentCommand());
        env.put(GuestContract.ENV_TIMEOUT_SECS, Integer.toString(timeout));
        env.put(GuestContract.ENV_NETWORK, probeSpec.network().mode().policy());
        return env;
    }

    /**
     * A follow-up task (continue_task) starts from its parent's commits, refs/tasks/&lt;parent&gt;,
     * which is no branch; its work belongs on the branch the parent was merged into.
     */
    private String baseBranch(TaskRecord r, PreparedWorkspace prepared) {
        if (prepared.baseBranch() != null || r.parentTaskId() == null) return prepared.baseBranch();
        if (!("refs/tasks/" + r.parentTaskId()).equals(r.options().baseRef())) return null;
        return store.load(r.parentTaskId()).map(TaskRecord::prepared).map(p -> p.getString("base_branch")).orElse(null);
    }

    /** Opt-in only (credential_mode file): the runner reads this 0600 file and deletes it. */
    private void writeGuestCredential(TaskRecord r) throws IOException {
        Optional<Credential> credential = credentials.get();
        if (credential.isPresent()) {
            GuestCredentialFile.write(paths.taskIo(r.id()), credential.get());
        } else if (r.options().agentCommand() == null) {
            throw new WorkerFailure(FailureReason.NO_CREDENTIALS, "credential_mode is file but no credential is configured: set ANTHROPIC_API_KEY "
                    + "or CLAUDE_CODE_OAUTH_TOKEN, or run: microvm-orchestrator setup-token");
        }
    }
}
