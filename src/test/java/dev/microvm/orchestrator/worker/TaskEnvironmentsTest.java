package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.GuestSecretFiles;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.GitRepos;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import dev.microvm.orchestrator.vm.MappedOwnership;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where a task's environment comes from: the user's commit, the host's override, the original task's commit. */
class TaskEnvironmentsTest {

    @TempDir Path tmp;

    private Path repo;
    private StatePaths paths;
    private TaskStore store;
    private TaskEnvironments environments;

    private void setUp() throws Exception {
        repo = GitRepos.create(tmp.resolve("repo"));
        paths = new StatePaths(tmp.resolve("state"));
        store = new TaskStore(paths);
        environments = new TaskEnvironments(new HostEnvironments(paths), new RepoSecrets(paths), store, java.util.Optional::empty);
    }

    private String commitEnvironment(String json) throws Exception {
        Files.createDirectories(repo.resolve(".microvm"));
        Files.writeString(repo.resolve(".microvm/environment.json"), json);
        GitRepos.git(repo, "add", "-A");
        GitRepos.git(repo, "commit", "-q", "-m", "env");
        return GitRepos.git(repo, "rev-parse", "HEAD").strip();
    }

    private TaskRecord task(String id, String parent, String base) {
        TaskOptions options = TaskOptions.fromJson(base == null ? new JsonObject() : new JsonObject().put("base", base));
        return TaskRecord.queued(id, "demo", repo.toString(), "d", "c", "n", options, parent, "2026-01-01T00:00:00Z");
    }

    @Test
    void theFileIsReadAtTheUsersCommitNotFromTheWorkingTree() throws Exception {
        setUp();
        String first = commitEnvironment("{\"env\": {\"A\": \"committed\"}}");
        Files.writeString(repo.resolve(".microvm/environment.json"), "{\"env\": {\"A\": \"uncommitted\"}}");
        TaskEnvironments.Resolved r = environments.resolve(task("t1", null, null), first);
        assertThat(r.source()).isEqualTo("repository");
        assertThat(r.commit()).isEqualTo(first);
        assertThat(r.environment().env()).containsEntry("A", "committed");
        assertThat(r.toJson().getString("sha256")).isEqualTo(r.environment().sha256());
        assertThat(r.toJson().getJsonObject("value").getJsonObject("env").getString("A")).isEqualTo("committed");
    }

    @Test
    void noFileIsNoEnvironmentAndTheHostsOverrideWins() throws Exception {
        setUp();
        String head = GitRepos.git(repo, "rev-parse", "HEAD").strip();
        assertThat(environments.resolve(task("t1", null, null), head).source()).isEqualTo("none");
        String withFile = commitEnvironment("{\"setup\": [\"from-repo\"]}");
        new HostEnvironments(paths).set("demo", Files.writeString(tmp.resolve("host.json"), "{\"setup\": [\"from-host\"]}"));
        TaskEnvironments.Resolved r = environments.resolve(task("t2", null, null), withFile);
        assertThat(r.source()).isEqualTo("host");
        assertThat(r.environment().setup()).containsExactly("from-host");
    }

    @Test
    void aFollowUpTaskReadsTheEnvironmentWhereTheOriginalDidNeverFromTheAgentsCommits() throws Exception {
        setUp();
        String original = commitEnvironment("{\"env\": {\"A\": \"original\"}}");
        String agents = commitEnvironment("{\"env\": {\"A\": \"edited-by-agent\"}, \"setup\": [\"exit 9\"]}");
        TaskRecord parent = task("parent", null, null).withPrepared(new JsonObject().put("base_commit", original)
                .put("environment", environments.resolve(task("parent", null, null), original).toJson()));
        store.save(parent);
        TaskEnvironments.Resolved child = environments.resolve(task("child", "parent", "refs/tasks/parent"), agents);
        assertThat(child.commit()).isEqualTo(original);
        assertThat(child.environment().env()).containsEntry("A", "original");
        TaskEnvironments.Resolved grandchild;
        store.save(task("child", "parent", "refs/tasks/parent").withPrepared(new JsonObject().put("base_commit", agents)
                .put("environment", child.toJson())));
        grandchild = environments.resolve(task("grandchild", "child", "refs/tasks/child"), agents);
        assertThat(grandchild.environment().env()).containsEntry("A", "original");
        // a task that names another base than its parent's commits reads at its own base
        assertThat(environments.resolve(task("other", "parent", "main"), agents).environment().env()).containsEntry("A", "edited-by-agent");
    }

    @Test
    void malformedFilesAndUngrantedSecretsAreRefusedByNameBeforeAnyVm() throws Exception {
        setUp();
        String bad = commitEnvironment("{\"setup\": \"make\"}");
        assertThatThrownBy(() -> environments.resolve(task("t1", null, null), bad))
                .isInstanceOfSatisfying(WorkerFailure.class, f -> assertThat(f.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining(".microvm/environment.json at commit " + bad.substring(0, 12)).hasMessageContaining("setup");
        String named = commitEnvironment("{\"secrets\": [\"NPM_TOKEN\", \"OTHER\"]}");
        new RepoSecrets(paths).set("demo", "NPM_TOKEN", Secret.of("npm-value-0123456789"), true);
        assertThatThrownBy(() -> environments.resolve(task("t2", null, null), named))
                .isInstanceOfSatisfying(WorkerFailure.class, f -> assertThat(f.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining("OTHER").hasMessageNotContaining("npm-value");
        new RepoSecrets(paths).set("demo", "OTHER", Secret.of("other-value-0123456789"), false);
        TaskEnvironments.Resolved r = environments.resolve(task("t3", null, null), named);
        assertThat(r.secrets()).extracting(RepoSecrets.Grant::name).containsExactly("NPM_TOKEN", "OTHER");
        assertThat(r.toJson().encode()).as("the record shows names, never values").doesNotContain("value-0123456789");

        Path io = tmp.resolve("io");
        TaskEnvironments.write(io, r, true);
        for (String f : List.of("secrets.env", "agent-secrets.env")) {
            Path file = io.resolve(f);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
            assertThat(MappedOwnership.recordedUid(file)).as("owned by the guest's root").isZero();
            assertThat(MappedOwnership.recordedMode(file) & 07777).isEqualTo(0600);
        }
        assertThat(Files.readString(io.resolve("secrets.env"))).isEqualTo("NPM_TOKEN='npm-value-0123456789'\nOTHER='other-value-0123456789'\n");
        assertThat(Files.readString(io.resolve("agent-secrets.env"))).as("only those granted --agent").isEqualTo("NPM_TOKEN='npm-value-0123456789'\n");
        assertThat(Files.readString(io.resolve("environment.env"))).isEmpty();
        GuestSecretFiles.remove(io);
        assertThat(io.resolve("secrets.env")).doesNotExist();
        assertThat(io.resolve("agent-secrets.env")).doesNotExist();
    }

    @Test
    void aCommittedFlakeWithADevShellRunsTheTaskInsideNixDevelopWhenTheImageHasNix() throws Exception {
        setUp();
        Files.writeString(repo.resolve("flake.nix"), NixDevelopTest.FLAKE);
        String withFlake = commitEnvironment("{\"env\": {\"A\": \"1\"}}");
        TaskEnvironments withNix = new TaskEnvironments(new HostEnvironments(paths), new RepoSecrets(paths), store, () -> NixDevelopTest.WITH_NIX);
        TaskEnvironments.Resolved r = withNix.resolve(task("t1", null, null), withFlake);
        assertThat(r.nix().enabled()).isTrue();
        assertThat(r.toJson().getJsonObject("nix_develop").getBoolean("enabled")).isTrue();
        TaskEnvironments noNix = new TaskEnvironments(new HostEnvironments(paths), new RepoSecrets(paths), store, () -> NixDevelopTest.WITHOUT_NIX);
        assertThatThrownBy(() -> noNix.resolve(task("t2", null, null), withFlake)).isInstanceOf(WorkerFailure.class)
                .hasMessageContaining("has no Nix").hasMessageContaining(withFlake.substring(0, 12));
    }

    @Test
    void theIntakeCheckReadsWhereTheBaseNamesNowAndLeavesAnUnknownBaseToPrepare() throws Exception {
        setUp();
        String bad = commitEnvironment("{\"setup\": \"make\"}");
        assertThatThrownBy(() -> environments.check(task("t1", null, null)))
                .isInstanceOfSatisfying(WorkerFailure.class, f -> assertThat(f.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining(".microvm/environment.json at commit " + bad.substring(0, 12)).hasMessageContaining("setup");
        GitRepos.git(repo, "branch", "fixed");
        GitRepos.git(repo, "checkout", "-q", "fixed");
        String good = commitEnvironment("{\"env\": {\"A\": \"fixed\"}}");
        GitRepos.git(repo, "checkout", "-q", "-");
        TaskEnvironments.Resolved onBranch = environments.check(task("t2", null, "fixed")).orElseThrow();
        assertThat(onBranch.commit()).as("the branch's tip, not the checked-out commit").isEqualTo(good);
        assertThat(onBranch.environment().env()).containsEntry("A", "fixed");
        assertThat(environments.check(task("t3", null, "no-such-branch"))).as("prepare refuses it with base_not_found").isEmpty();
    }

    @Test
    void theIntakeCheckOfAFollowUpReadsTheOriginalTasksCommitNotTheAgents() throws Exception {
        setUp();
        String original = commitEnvironment("{\"secrets\": [\"TOKEN\"]}");
        new RepoSecrets(paths).set("demo", "TOKEN", Secret.of("token-value-0123456789"), false);
        store.save(task("parent", null, null).withPrepared(new JsonObject().put("base_commit", original)
                .put("environment", environments.resolve(task("parent", null, null), original).toJson())));
        String agents = commitEnvironment("{\"setup\": \"edited by the agent\"}");
        GitRepos.git(repo, "update-ref", "refs/tasks/parent", agents);
        TaskRecord child = task("child", "parent", "refs/tasks/parent");
        assertThat(environments.check(child).orElseThrow().commit()).isEqualTo(original);
        new RepoSecrets(paths).remove("demo", "TOKEN");
        assertThatThrownBy(() -> environments.check(child))
                .isInstanceOfSatisfying(WorkerFailure.class, f -> assertThat(f.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining("TOKEN").hasMessageContaining("secret set TOKEN --repo demo");
    }
}
