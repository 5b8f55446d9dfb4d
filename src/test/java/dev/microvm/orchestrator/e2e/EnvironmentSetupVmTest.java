package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.HexFormat;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A repository's {@code .microvm/environment.json} in real VMs (the agent image, scripted agent
 * commands): setup runs as the agent user with the environment's variables and a host-granted
 * secret (the canary), through a step that daemonizes; before the agent starts every process setup
 * left is gone and the canary is absent from every environment the agent can read, which it
 * searches itself and commits. The canary appears in no file of the state directory (records,
 * events, console, io, the slot disk) nor in the repository. A failing setup fails the task
 * {@code setup_failed} without starting the agent; an ungranted secret and a malformed file are
 * refused by the submit, before any task exists; a follow-up task ignores the agent's edit of the environment file.
 */
@Tag("vm")
class EnvironmentSetupVmTest {

    private static final List<String> TERMINAL = List.of("completed", "failed", "cancelled");

    @TempDir Path tmp;

    @Test
    void setupGetsTheSecretTheAgentNeverSeesItAndTheEnvironmentComesFromTheUsersCommit() throws Exception {
        String canary = "canary-" + UUID.randomUUID();
        String agentToken = "agent-token-" + UUID.randomUUID();
        E2eState state = E2eState.create(tmp, 1, new JsonObject().put("guest_dir", TestGuest.agent().dir.toString())
                .put("vm_memory_mib", 1024).put("slot_disk_gib", 1));
        commitEnvironment(state.repo, new JsonObject()
                .put("setup", new JsonArray()
                        .add("printf %s \"$CANARY_TOKEN\" | sha256sum | cut -c1-64 > \"$HOME/canary.sha\"; echo \"setup sees $GREETING as $(id -un)\"")
                        // a step that daemonizes (setsid, its own session) and keeps the secret in its environment
                        .add("setsid sh -c 'while :; do sleep 1; done' > /dev/null 2>&1 < /dev/null &")
                        .add("nohup sleep 600 > /dev/null 2>&1 &"))
                .put("env", new JsonObject().put("GREETING", "hello-from-env"))
                .put("secrets", new JsonArray().add("CANARY_TOKEN").add("AGENT_TOKEN")));
        RepoSecrets secrets = new RepoSecrets(state.paths);
        secrets.set("project", "CANARY_TOKEN", Secret.of(canary), false);
        secrets.set("project", "AGENT_TOKEN", Secret.of(agentToken), true);

        Path broken = repo("broken", new JsonObject().put("setup", new JsonArray().add("true").add("echo failing; exit 3")), state);
        repo("ungranted", new JsonObject().put("secrets", new JsonArray().add("NOT_GRANTED")), state);
        Path malformed = GitRepos.create(tmp.resolve("malformed"));
        Files.createDirectories(malformed.resolve(".microvm"));
        Files.writeString(malformed.resolve(".microvm/environment.json"), "{\"setup\": \"npm ci\", \"bogus\": 1}");
        GitRepos.git(malformed, "add", ".microvm");
        GitRepos.git(malformed, "commit", "-q", "-m", "a malformed environment");
        new RepoRegistry(state.paths, Clock.systemUTC()).allow(malformed, "malformed");

        String agent = "echo \"$GREETING\" > env.txt; cp \"$HOME/canary.sha\" canary-sha.txt; "
                + "printf %s \"$AGENT_TOKEN\" | sha256sum | cut -c1-64 > agent-token-sha.txt; "
                // every environment and command line the agent can read, as it found them
                + "for p in /proc/[0-9]*; do echo \"== $p $(cat $p/cmdline 2>/dev/null | tr '\\0' ' ')\"; "
                + "cat $p/environ 2>/dev/null | tr '\\0' '\\n' | grep -v '^AGENT_TOKEN='; done > found.txt; "
                + "ps -eo user,args > ps.txt 2>/dev/null || true; "
                + "printf '{\"env\":{\"GREETING\":\"edited-by-agent\"},\"setup\":[\"exit 9\"]}' > .microvm/environment.json; "
                + "git add -A && git commit -q -m 'What the agent saw'";

        OrchestratorConfig config = OrchestratorConfig.load(state.paths);
        try (NodeFixture f = NodeFixture.start(state.root, config, Drivers.create(config, state.paths))) {
            // refused by the submit itself, before any task exists: a secret the host has not granted, a malformed file
            assertThatThrownBy(() -> f.submit("ungranted", "x", new JsonObject().put("agent_command", "true")))
                    .isInstanceOf(ExecutionException.class).hasMessageContaining("NOT_GRANTED")
                    .hasMessageContaining("secret set NOT_GRANTED --repo ungranted")
                    .satisfies(e -> assertThat(((ReplyException) e.getCause()).failureCode()).isEqualTo(FailureReason.ENVIRONMENT_INVALID.code()));
            assertThatThrownBy(() -> f.submit("malformed", "x", new JsonObject().put("agent_command", "true")))
                    .isInstanceOf(ExecutionException.class).hasMessageContaining(".microvm/environment.json")
                    .hasMessageContaining("setup").hasMessageContaining("bogus")
                    .satisfies(e -> assertThat(((ReplyException) e.getCause()).failureCode()).isEqualTo(FailureReason.ENVIRONMENT_INVALID.code()));
            assertThat(f.request(Addresses.TASK_LIST, new JsonObject()).getJsonArray("tasks")).as("no task was created").isEmpty();

            String id = f.submit("project", "look around", new JsonObject().put("agent_command", agent).put("timeout_seconds", 300))
                    .getString("task_id");
            // while it runs, no host process holds the canary in its command line or environment (QEMU's argv included)
            List<String> hostLeaks = new ArrayList<>();
            int scans = 0;
            long deadline = System.nanoTime() + Duration.ofMinutes(6).toNanos();
            while (!TERMINAL.contains(f.request(Addresses.TASK_GET, new JsonObject().put("task_id", id)).getString("status"))
                    && System.nanoTime() < deadline) {
                hostLeaks.addAll(CanaryKeyVmTest.processesHolding(canary, -1));
                scans++;
                Thread.sleep(200);
            }
            assertThat(scans).isPositive();
            assertThat(hostLeaks).as("host processes whose argv or environment hold the canary").isEmpty();
            JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(1));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            JsonObject env = done.getJsonObject("prepared").getJsonObject("environment");
            assertThat(env.getString("source")).isEqualTo("repository");
            assertThat(env.getString("commit")).isEqualTo(done.getJsonObject("prepared").getString("base_commit"));
            JsonObject setup = done.getJsonObject("prepared").getJsonObject("setup");
            assertThat(setup.getString("outcome")).isEqualTo("ok");
            assertThat(setup.getLong("duration_ms")).isNotNull();

            assertThat(read(state.repo, "env.txt")).isEqualTo("hello-from-env");
            assertThat(read(state.repo, "canary-sha.txt")).as("the secret reached setup").isEqualTo(sha256(canary));
            assertThat(read(state.repo, "agent-token-sha.txt")).as("a secret granted --agent reaches the agent").isEqualTo(sha256(agentToken));
            String found = read(state.repo, "found.txt");
            assertThat(found).as("the agent read environments in the guest").contains("GREETING=hello-from-env");
            assertThat(found).as("what the agent could read").doesNotContain(canary).doesNotContain("CANARY_TOKEN")
                    .doesNotContain("sleep 600").doesNotContain("while :");
            String console = Files.readString(state.paths.taskConsoleLog(id));
            assertThat(console).contains("mvo-setup: setup sees hello-from-env as agent");

            // a follow-up task reads the environment where the original did, not the agent's edit
            String next = f.request(Addresses.TASK_CONTINUE, new JsonObject().put("task_id", id).put("prompt", "again").put("caller", "test")
                    .put("options", new JsonObject().put("agent_command", "echo \"$GREETING\" > env2.txt; git add env2.txt; git commit -q -m again")))
                    .getString("task_id");
            JsonObject cont = f.awaitTerminal(next, Duration.ofMinutes(6));
            assertThat(cont.getString("status")).as(cont.encodePrettily()).isEqualTo("completed");
            assertThat(cont.getJsonObject("prepared").getJsonObject("environment").getString("sha256")).isEqualTo(env.getString("sha256"));
            assertThat(read(state.repo, "env2.txt")).isEqualTo("hello-from-env");

            // a failing setup command fails the task without starting the agent
            String failing = f.submit("broken", "never runs", new JsonObject().put("agent_command",
                    "echo started > started.txt; git add started.txt; git commit -q -m started")).getString("task_id");
            JsonObject failed = f.awaitTerminal(failing, Duration.ofMinutes(6));
            assertThat(failed.getString("reason")).as(failed.encodePrettily()).isEqualTo("setup_failed");
            assertThat(failed.getString("error")).contains("setup command 2").contains("exit 3").contains("code 3");
            assertThat(failed.getJsonObject("prepared").getJsonObject("setup").getString("outcome")).isEqualTo("failed");
            assertThat(Files.exists(broken.resolve("started.txt"))).isFalse();
            assertThat(Files.exists(state.paths.taskIo(failing).resolve("out/agent.log"))).as("the agent never started").isFalse();
        }
        String events = Files.readString(state.paths.eventLog());
        assertThat(events).contains("\"task.setup\"");
        // the scan finds the values where they belong, in the host's 0600 grants file, and nowhere else
        Path grants = state.paths.repoSecrets("project");
        assertThat(CanaryKeyVmTest.filesHolding(tmp, canary)).as("files holding the canary (state dir incl. slot disks, repositories)")
                .containsExactly(grants);
        assertThat(CanaryKeyVmTest.filesHolding(tmp, agentToken)).containsExactly(grants);
        assertThat(state.paths.slotDir(0).resolve("disk.img")).as("the slot disk the scan covered").isRegularFile();
        assertThat(state.git("log", "-p", "--all")).doesNotContain(canary);
    }

    private Path repo(String alias, JsonObject environment, E2eState state) throws Exception {
        Path repo = GitRepos.create(tmp.resolve(alias));
        commitEnvironment(repo, environment);
        new RepoRegistry(state.paths, Clock.systemUTC()).allow(repo, alias);
        return repo;
    }

    private static void commitEnvironment(Path repo, JsonObject environment) throws Exception {
        Files.createDirectories(repo.resolve(".microvm"));
        Files.writeString(repo.resolve(".microvm/environment.json"), environment.encodePrettily());
        GitRepos.git(repo, "add", ".microvm");
        GitRepos.git(repo, "commit", "-q", "-m", "environment");
    }

    private static String read(Path repo, String file) throws Exception {
        return Files.readString(repo.resolve(file)).strip();
    }

    private static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }
}
