package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

@Tag("vm")
class TaskInQemuVmTest {

    @TempDir Path tmp;

    @Test
    void aScriptedAgentCommitsInARealMicroVmAndTheCommitIsMergedIntoTheUsersBranch() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", TestGuest.get().dir, 1);
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(repo, "project");
            String streamJson = "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"test\",\"content\":"
                    + "[{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"Bash\",\"input\":{}}]}}";
            JsonObject task = f.submit("project", "write a greeting", new JsonObject().put("agent_command",
                    "echo agent-says-hi && echo '" + streamJson + "' && "
                            + "echo 'hello from the VM' > greeting.txt && git add greeting.txt && git commit -q -m 'Add greeting'"));
            JsonObject done = f.awaitTerminal(task.getString("task_id"), Duration.ofMinutes(4));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(done.getJsonObject("merge_result").getBoolean("merged")).isTrue();
            assertThat(done.getInteger("exit_code")).isZero();
            assertThat(Files.readString(repo.resolve("greeting.txt"))).isEqualTo("hello from the VM\n");
            assertThat(GitRepos.git(repo, "log", "-1", "--format=%s", "main")).isEqualTo("Add greeting");
            assertThat(GitRepos.git(repo, "rev-parse", "refs/tasks/" + task.getString("task_id")))
                    .isEqualTo(GitRepos.git(repo, "rev-parse", "main"));
            assertThat(GitRepos.git(repo, "status", "--porcelain")).isEmpty();
            // the agent's output streamed live as task.log events, its stream-json as task.progress
            var events = f.node.events().log().readAfter(0, 10_000);
            assertThat(events).anySatisfy(e -> {
                assertThat(e.type()).isEqualTo("task.log");
                assertThat(e.data().getJsonArray("lines").encode()).contains("agent-says-hi");
            });
            assertThat(events).anySatisfy(e -> {
                assertThat(e.type()).isEqualTo("task.progress");
                assertThat(e.data().getInteger("tool_uses")).isEqualTo(1);
            });
            JsonObject slots = f.request(Addresses.SLOT_LIST, new JsonObject());
            assertThat(slots.getJsonArray("active")).isEmpty();
        }
    }

    /**
     * An agent that cannot run is reported in words: the default agent on an image without it
     * fails before any VM boots, naming the image; an agent killed by SIGILL names the CPU model;
     * the agent user is never root (whoami in the guest says so).
     */
    @Test
    void agentsThatCannotRunAreReportedInWordsAndTheAgentIsNeverRoot() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        TestGuest scripted = TestGuest.get();
        // credential_mode file: this fixture runs no credential proxy, and the image check comes first anyway
        OrchestratorConfig config = NodeFixture.config(state, "qemu", scripted.dir, 1)
                .merge(new JsonObject().put("credential_mode", "file"), "test");
        var credential = new dev.microvm.orchestrator.secrets.Credential(dev.microvm.orchestrator.secrets.CredentialKind.API_KEY,
                dev.microvm.orchestrator.secrets.Secret.of("sk-ant-test-not-used"), "test");
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)), credential)) {
            f.node.repos().allow(repo, "project");
            JsonObject missing = f.awaitTerminal(f.submit("project", "needs claude", new JsonObject()).getString("task_id"), Duration.ofMinutes(2));
            assertThat(missing.getString("status")).as(missing.encodePrettily()).isEqualTo("failed");
            assertThat(missing.getString("reason")).isEqualTo("agent_not_found");
            assertThat(missing.getString("error")).contains("agent `claude` not found in guest image " + scripted.dir);
            assertThat(missing.getValue("pid")).as("no VM was started").isNull();

            JsonObject sigill = f.awaitTerminal(f.submit("project", "dies of SIGILL", new JsonObject().put("agent_command",
                    "whoami > who.txt && git add who.txt && git commit -q -m who && kill -ILL $$")).getString("task_id"), Duration.ofMinutes(4));
            assertThat(sigill.getString("status")).as(sigill.encodePrettily()).isEqualTo("failed");
            assertThat(sigill.getString("reason")).isEqualTo("agent_failed");
            assertThat(sigill.getInteger("exit_code")).isEqualTo(132);
            assertThat(sigill.getString("error")).startsWith("illegal instruction: the guest CPU model lacks instructions");
            assertThat(GitRepos.git(repo, "show", "refs/tasks/" + sigill.getString("task_id") + ":who.txt")).isEqualTo("agent");
        }
    }

    /** The default accelerator on this host: a KVM that does not boot guests costs one retry under TCG, once. */
    @Test
    void withAcceleratorAutoATaskRunsWhateverThisHostsKvmDoes() throws Exception {
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", TestGuest.get().dir, 1)
                .merge(new JsonObject().put("accelerator", "auto").put("boot_timeout_seconds", 60), "test");
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(repo, "project");
            for (String name : new String[] {"one", "two"}) {
                JsonObject task = f.submit("project", "write " + name, new JsonObject().put("agent_command",
                        "echo " + name + " > " + name + ".txt && git add " + name + ".txt && git commit -q -m " + name));
                JsonObject done = f.awaitTerminal(task.getString("task_id"), Duration.ofMinutes(4));
                assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            }
            assertThat(GitRepos.git(repo, "log", "--format=%s", "main")).contains("one").contains("two");
            Path verdict = new StatePaths(state).runDir().resolve(Drivers.KVM_VERDICT_FILE);
            System.err.println("accelerator auto: KVM " + (Files.exists(verdict) ? "ruled out on this host" : "not ruled out"));
        }
    }
}
