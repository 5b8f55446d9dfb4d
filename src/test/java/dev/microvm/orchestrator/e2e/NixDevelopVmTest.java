package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A repository with a flake: its devShell wraps setup and the agent, in a real VM with the agent
 * image's Nix (Debian's nix-bin) and a store on the repository's cache disk. The fixture flake has
 * no inputs, so it evaluates and builds offline. The first task (a scripted agent) builds the
 * devShell's environment into an empty store; the second, on the same slot, is real Claude Code,
 * whose Bash tool sees the devShell's variables, and it builds nothing: the store was kept, and its
 * garbage collected (a path the first agent added is gone) without the devShell, which a profile roots.
 * Through the same real MCP client: run_task's description says what the guest offers, and a task
 * based on a branch with a malformed environment file is refused by the call.
 */
@Tag("vm")
class NixDevelopVmTest {

    static final String SEE = "printf '%s %s %s\\n' \"$FIXTURE_TOOLCHAIN\" \"$FIXTURE_HOOK\" \"$IN_NIX_SHELL\"";

    @TempDir Path tmp;
    private Process harness;

    @AfterEach
    void stop() {
        McpHarness.destroy(harness);
    }

    @Test
    void setupAndTheAgentRunInsideTheFlakesDevShellAndTheNextTaskOnTheSlotReusesTheStore() throws Exception {
        JsonArray scenarios = new JsonArray().add(ScriptedUpstream.scenario("SCENARIO-NIX",
                ScriptedUpstream.bash(SEE + " > claude-nix.txt && if test -e \"$(cat garbage.txt)\"; then echo kept; else echo collected; fi > gc.txt"
                        + " && git add claude-nix.txt gc.txt && git commit -q -m 'Claude Code inside nix develop'"),
                ScriptedUpstream.text("Recorded the devShell's variables.")));
        try (ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios)) {
            // the guest collects the kept store's garbage before every devShell, not only when its disk is 80% full
            Path guest = TestGuest.agent().derived(tmp.resolve("gc-image"), "mvo.test.nix_gc_percent=0");
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("guest_dir", guest.toString())
                    .put("vm_cpus", 2).put("vm_memory_mib", 2048).put("api_upstream", upstream.url()));
            Files.copy(TestGuest.projectDir().resolve("src/test/resources/fixtures/nix-devshell/flake.nix"), state.repo.resolve("flake.nix"));
            Files.createDirectories(state.repo.resolve(".microvm"));
            Files.writeString(state.repo.resolve(".microvm/environment.json"), "{\"setup\": [\"echo setup-sees-$FIXTURE_TOOLCHAIN; sleep 4; echo setup-later\"]}\n");
            state.git("add", "flake.nix", ".microvm/environment.json");
            state.git("commit", "-q", "-m", "a flake with a devShell");
            // a branch whose environment file is malformed: run_task itself refuses a task based on it
            state.git("checkout", "-q", "-b", "broken");
            Files.writeString(state.repo.resolve(".microvm/environment.json"), "{\"setup\": \"not a list\"}\n");
            state.git("commit", "-q", "-am", "a malformed environment");
            state.git("checkout", "-q", "main");

            JsonArray steps = new JsonArray()
                    .add(new JsonObject().put("list_tools", true))
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project").put("base", "broken")
                            .put("description", "never runs").put("agent_command", "true")).put("expect", "error"))
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project").put("description", "record the devShell")
                            .put("network", "api-only").put("agent_command", SEE + " > nix.txt && echo unrooted > /tmp/garbage && nix-store --add /tmp/garbage > garbage.txt"
                                    + " && git add nix.txt garbage.txt && git commit -q -m nix")).put("save", "t"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 300_000)).put("timeout_ms", 310_000))
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project").put("network", "api-only")
                            .put("description", "SCENARIO-NIX: record the devShell's variables")).put("save", "c"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 300_000)).put("timeout_ms", 310_000));
            Path dir = tmp.resolve("harness");
            harness = McpHarness.launchWithPrivateEnv(dir, steps, state.root, Map.of("ANTHROPIC_API_KEY", "sk-ant-api03-nix-test"));
            McpHarness.Run run = McpHarness.collect(harness, dir, 700);
            String why = run.describe();
            assertThat(run.summary().getInteger("failed")).as(why).isZero();
            String first = run.step(2).getJsonObject("structured").getString("task_id");
            String second = run.step(4).getJsonObject("structured").getString("task_id");

            // what a real MCP client sees: run_task's description says what this guest offers
            String runTask = run.step(0).getJsonArray("tools").stream().map(JsonObject.class::cast)
                    .filter(t -> "run_task".equals(t.getString("name"))).findFirst().orElseThrow().getString("description");
            assertThat(runTask).contains("nix develop").contains("no container runtime");
            // and a malformed environment is refused by the call, naming file, commit and field; no task was made
            assertThat(run.step(1).getString("text")).contains("[environment_invalid]").contains(".microvm/environment.json")
                    .contains("setup");
            try (var tasks = Files.list(state.paths.tasksDir())) {
                assertThat(tasks.map(t -> t.getFileName().toString()).toList()).containsExactlyInAnyOrder(first, second);
            }
            String firstConsole = Files.readString(state.paths.taskConsoleLog(first));
            String secondConsole = Files.readString(state.paths.taskConsoleLog(second));

            // the scripted agent and setup ran inside the devShell: its variables and its shellHook
            assertThat(run.step(3).getJsonObject("structured").getString("status")).as(why + firstConsole).isEqualTo("completed");
            assertThat(state.git("show", "main:nix.txt").strip()).isEqualTo("fixture-toolchain-1 ran impure");
            assertThat(firstConsole).contains("mvo-setup: setup-sees-fixture-toolchain-1").contains("nix develop: ready");
            // setup's output is shown while the command runs, not when it ends
            Instant early = logged(state, first, "mvo-setup: setup-sees-fixture-toolchain-1");
            Instant late = logged(state, first, "mvo-setup: setup-later");
            assertThat(Duration.between(early, late)).as("the first line's event came before the command's sleep ended")
                    .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
            JsonObject nix1 = state.taskRecord(first).getJsonObject("prepared").getJsonObject("setup").getJsonObject("nix_develop");
            assertThat(nix1.getString("outcome")).as(nix1.encode()).isEqualTo("ok");
            assertThat(nix1.getLong("store_paths_before")).as("a new cache disk: an empty store").isZero();
            assertThat(nix1.getLong("built")).as("the devShell's environment was built").isPositive();
            assertThat(state.taskRecord(first).getJsonObject("prepared").getJsonObject("environment").getJsonObject("nix_develop")
                    .getBoolean("enabled")).isTrue();

            // real Claude Code inside the devShell, on the same slot: its Bash tool sees the variables, nothing is rebuilt
            assertThat(run.step(5).getJsonObject("structured").getString("status")).as(why + secondConsole).isEqualTo("completed");
            assertThat(state.git("show", "main:claude-nix.txt").strip()).isEqualTo("fixture-toolchain-1 ran impure");
            assertThat(secondConsole).contains("running Claude Code headless, inside nix develop");
            JsonObject nix2 = state.taskRecord(second).getJsonObject("prepared").getJsonObject("setup").getJsonObject("nix_develop");
            System.out.println("nix develop, first task: " + nix1.encode() + "; second task: " + nix2.encode());
            assertThat(nix2.getString("outcome")).as(nix2.encode()).isEqualTo("ok");
            // (the store may have grown by the sources of newer commits: each commit's tree is a store path)
            assertThat(nix2.getLong("store_paths_before")).as("the first task's store, kept on the cache disk")
                    .isGreaterThanOrEqualTo(nix1.getLong("store_paths_after")).isPositive();
            assertThat(nix2.getLong("built")).as("the devShell's environment is not built again").isZero();
            assertThat(secondConsole).contains("collecting garbage, the last devShell kept");
            assertThat(state.git("show", "main:garbage.txt")).as("the first agent added a path to the store").startsWith("/nix/store/");
            assertThat(state.git("show", "main:gc.txt").strip()).as("that unrooted path was collected, the devShell (a profile) was not")
                    .isEqualTo("collected");
        }
    }

    /** When the task's console line containing {@code text} was published as a task.log event. */
    private static Instant logged(E2eState state, String taskId, String text) throws Exception {
        for (String raw : Files.readAllLines(state.paths.eventLog())) {
            if (!raw.contains("\"task.log\"") || !raw.contains(taskId) || !raw.contains(text)) continue;
            JsonObject event = new JsonObject(raw);
            if ("task.log".equals(event.getString("type")) && taskId.equals(event.getString("task_id"))) return Instant.parse(event.getString("ts"));
        }
        throw new AssertionError("no task.log event of " + taskId + " holds " + text);
    }
}
