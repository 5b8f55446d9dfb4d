package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.AllowedDomains;
import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.vm.DriverFingerprint;
import dev.microvm.orchestrator.vm.NetworkSupport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.time.Clock;
import java.util.function.Supplier;
import java.util.List;

/**
 * Turns a run or continue request into a validated QUEUED record (blocking: reads the repository
 * allowlist and the repository). Nothing is written here.
 */
final class TaskIntake {
    private final OrchestratorConfig config;
    private final RepoRegistry repos;
    private final Clock clock;
    private final String nodeId;
    private final Supplier<DriverFingerprint> driver;

    /** @param driver this node's driver as last checked: the network policies it enforces */
    TaskIntake(OrchestratorConfig config, RepoRegistry repos, Clock clock, String nodeId, Supplier<DriverFingerprint> driver) {
        this.config = config;
        this.repos = repos;
        this.clock = clock;
        this.nodeId = nodeId;
        this.driver = driver;
    }

    /** Checks what needs no I/O; throws IllegalArgumentException with words a user can act on. */
    static JsonObject requestedOptions(JsonObject b) {
        String description = b.getString("description");
        if (description == null || description.isBlank()) throw new IllegalArgumentException("description is required: say what the agent should do");
        if (description.length() > 200_000) throw new IllegalArgumentException("description is too long (max 200000 characters)");
        // options arrive nested ({options:{...}}) from the CLI and flat from MCP tool arguments
        JsonObject requested = TaskOptions.requested(b);
        TaskOptions.fromJson(requested); // refuse bad options before touching anything
        return requested;
    }

    /** The new task's record. Blocking. */
    TaskRecord record(JsonObject b, JsonObject requested) {
        String alias = b.getString("repo");
        RepoRegistry.Repo repo = repos.resolve(alias);
        JsonObject withDefaults = repo.defaults().copy();
        for (String k : requested.fieldNames()) if (requested.getValue(k) != null) withDefaults.put(k, requested.getValue(k));
        TaskOptions options = settleNetwork(TaskOptions.fromJson(withDefaults), repo, TaskOptions.fromJson(requested));
        if (!Files.isDirectory(repo.path().resolve(".git"))) {
            throw new IllegalArgumentException("repository '" + alias + "' at " + repo.path() + " is gone or no longer a git repository; register it again with: microvm-orchestrator allow PATH");
        }
        return TaskRecord.queued(TaskIds.next(), repo.alias(), repo.path().toString(), b.getString("description"), b.getString("caller"), nodeId,
                options, b.getString("parent_task_id"), clock.instant().toString());
    }

    /**
     * Whether a task of repository {@code alias} must run on this host: the host granted the
     * repository secrets or set its environment. Both live in this host's state directory and never
     * travel to another host, so such tasks are never placed elsewhere. Blocking.
     */
    static boolean staysHere(StatePaths paths, String alias) {
        return new RepoSecrets(paths).any(alias) || new HostEnvironments(paths).get(alias).isPresent();
    }

    /** The submit request of a follow-up run of the finished task {@code parent}. */
    static JsonObject continuation(TaskRecord parent, JsonObject b) {
        if (!parent.state().isTerminal()) {
            throw new IllegalArgumentException("task " + parent.id() + " is still " + parent.state().wireName() + "; continue it once it has finished");
        }
        JsonObject opts = TaskOptions.requested(b);
        JsonObject parentOpts = parent.options().toJson();
        for (String k : parentOpts.fieldNames()) if (!opts.containsKey(k)) opts.put(k, parentOpts.getValue(k));
        opts.put("base", "refs/tasks/" + parent.id());
        opts.put("include_uncommitted", false);
        return new JsonObject().put("repo", parent.repo()).put("description", b.getString("prompt"))
                .put("caller", b.getString("caller", parent.caller())).put("options", opts).put("parent_task_id", parent.id())
                .put("accept_before", b.getLong("accept_before"));
    }

    /**
     * The policy of a task that names none. When it is {@code full} and this host cannot enforce
     * it (QEMU without root), such tasks run under the first stricter policy the host enforces
     * (allowlist, then api-only): availability drops, isolation never does. A task or repository
     * that asks for {@code full} itself is still refused.
     */
    private String defaultPolicy() {
        String policy = config.defaultNetwork();
        NetworkSupport networks = driver.get().capabilities().networks();
        if (!"full".equals(policy) || networks.enforces(policy)) return policy;
        for (String stricter : List.of("allowlist", "api-only")) {
            if (networks.enforces(stricter)) return stricter;
        }
        return policy; // refused below, with the reason
    }

    /**
     * The policy the task runs with, refused here — before any VM — when this host's driver cannot
     * enforce it; under allowlist, the union of the config's, the repository's (state directory) and
     * the task's domains. Both are recorded in the task's options, so info and list show them.
     */
    private TaskOptions settleNetwork(TaskOptions merged, RepoRegistry.Repo repo, TaskOptions own) {
        String policy = merged.network() != null ? merged.network() : defaultPolicy();
        NetworkSupport networks = driver.get().capabilities().networks();
        if (!networks.enforces(policy)) throw new IllegalArgumentException(networks.refusal(driver.get().driver(), policy));
        if (!own.allowedDomains().isEmpty() && !"allowlist".equals(policy)) {
            throw new IllegalArgumentException("allowed_domains applies to network allowlist only; this task's network is '" + policy
                    + "' (add network: allowlist)");
        }
        if (!"allowlist".equals(policy)) return merged.withNetwork(policy, List.of());
        JsonArray repoList = repo.defaults().getJsonArray("allowed_domains", new JsonArray());
        AllowedDomains domains = AllowedDomains.of(config.allowedDomains(), "allowed_domains in config.json")
                .union(AllowedDomains.of(repoList.stream().map(String::valueOf).toList(), "allowed_domains of repository " + repo.alias()))
                .union(AllowedDomains.of(own.allowedDomains(), "allowed_domains"));
        return merged.withNetwork(policy, domains.patterns());
    }
}
