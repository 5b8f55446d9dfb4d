package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.testing.JavaProcess;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code driver: vfkit} on a simulated Mac (see {@link SimulatedMac}): the orchestrator, the fake
 * upstream and vfkit (the simulator, booting the real arm64 guest under TCG) all run inside a
 * network namespace whose vmnet bridge has a gateway other than macOS's default, so nothing that
 * assumes 192.168.64.1 passes. Two boots in all: a whole task, then a task whose orchestrator is
 * killed and whose VM the next orchestrator re-attaches and cancels through vfkit's REST API.
 */
@Tag("vm")
class SimulatedMacVmTest {
    static final String CREDENTIAL = "sk-ant-api03-simulated-mac-test-credential";

    @TempDir Path tmp;
    private final List<Process> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        started.forEach(McpHarness::destroy);
        simulators().forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void aWholeTaskRunsWithTheProxyOnTheGatewayAndItsCommitIsMerged() throws Exception {
        try (SimulatedMac mac = SimulatedMac.up(tmp, "192.168.71.1/24");
             ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), new JsonArray(), mac.prefix())) {
            E2eState state = state(mac, upstream.url());
            Process loopbackOnly = start(mac.inside(List.of("python3", "-m", "http.server", "-b", "127.0.0.1", "18081")));
            // no "${": the MCP harness substitutes those itself
            String probes = "hp=$(echo \"$ANTHROPIC_BASE_URL\" | sed 's|^http://||; s|/.*||'); h=$(echo $hp | cut -d: -f1); p=$(echo $hp | cut -d: -f2); "
                    + "body='{\"model\":\"m\",\"max_tokens\":1,\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'; "
                    // stdin stays open a while: a client that half-closes at once may lose the proxied answer
                    + "req() { { printf 'POST /v1/messages HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\nx-api-key: %s\\r\\nanthropic-version: 2023-06-01\\r\\n"
                    + "content-type: application/json\\r\\ncontent-length: %s\\r\\n\\r\\n%s' \"$hp\" \"$1\" \"$(printf %s \"$body\" | wc -c)\" \"$body\"; sleep 5; } "
                    + "| nc -w 20 \"$h\" \"$p\" | head -n 1 | tr -d '\\r'; }; "
                    + "echo \"api=$(req \"$ANTHROPIC_API_KEY\")\" > mac.txt; "
                    + "echo \"forged=$(req sk-ant-forged)\" >> mac.txt; "
                    + "if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 \"$h\" 18081 | grep -q HTTP; then echo loopback=reached; else echo loopback=blocked; fi >> mac.txt; "
                    + "echo \"gateway=$h arch=$(uname -m) $(ip -4 -o addr show eth0 | grep -o 'inet [0-9.]*')\" >> mac.txt; "
                    + "git add mac.txt && git commit -q -m 'Probe the simulated Mac'";
            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("run_task", new JsonObject().put("description", "probe the simulated Mac").put("repo", "project")
                            .put("network", "full").put("agent_command", probes)).put("save", "t"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 600_000)).put("timeout_ms", 660_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${t.task_id}")));
            long t0 = System.nanoTime();
            Process harness = McpHarness.launch(tmp.resolve("mcp"), steps, state.root, Map.of("ANTHROPIC_API_KEY", CREDENTIAL), mac.prefix());
            started.add(harness);
            McpHarness.Run run = McpHarness.collect(harness, tmp.resolve("mcp"), 720);
            System.out.printf("simulated Mac: whole task (MCP server start to merged) %.1f s%n", (System.nanoTime() - t0) / 1e9);
            JsonObject info = run.step(2).getJsonObject("structured");
            assertThat(info.getString("status")).as(run.describe()).isEqualTo("completed");
            String taskId = info.getString("task_id");

            String probed = state.git("show", "main:mac.txt");
            assertThat(probed).as("the agent's commit is merged").contains("arch=aarch64").contains("gateway=192.168.71.1")
                    .contains("inet 192.168.71.");
            assertThat(probed).as("the proxy on the gateway injects the credential; upstream saw %s; server:%n%s", upstream.requests(), run.stderr()).containsPattern("api=HTTP/1\\.[01] 200");
            assertThat(probed).as("no placeholder, no credential").containsPattern("forged=HTTP/1\\.[01] 4\\d\\d");
            assertThat(probed).as("a host loopback service is out of the guest's reach").contains("loopback=blocked");
            assertThat(upstream.requests()).as("upstream saw the real credential, once").hasSize(1);
            assertThat(Files.readString(state.paths.taskConsoleLog(taskId))).contains("mvo-runner: done");
            assertThat(run.stderr()).doesNotContain(CREDENTIAL);
            assertThat(simulators()).as("vfkit exited with its VM").isEmpty();
            loopbackOnly.destroy();
        }
    }

    /** Real Claude Code (linux-arm64) in the guest, driven by the scripted Messages API through the proxy on the gateway. */
    @Test
    void claudeCodeRunsInTheArm64GuestAndItsCommitIsMerged() throws Exception {
        JsonArray scenarios = new JsonArray().add(ScriptedUpstream.scenario("SCENARIO-MAC",
                ScriptedUpstream.bash("uname -m > arch.txt && git add arch.txt && git commit -q -m 'Claude Code on the simulated Mac'"),
                ScriptedUpstream.text("Committed arch.txt.")));
        try (SimulatedMac mac = SimulatedMac.up(tmp, "172.31.250.1/24");
             ScriptedUpstream upstream = new ScriptedUpstream(tmp.resolve("upstream"), scenarios, mac.prefix())) {
            E2eState state = state(mac, upstream.url());
            Files.writeString(state.root.resolve("config.json"), new JsonObject(Files.readString(state.root.resolve("config.json")))
                    .put("vm_memory_mib", 2048).encodePrettily());   // Claude Code needs about 2 GiB
            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("run_task", new JsonObject().put("description", "SCENARIO-MAC: record the architecture")
                            .put("repo", "project").put("network", "full")).put("save", "t"))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${t.task_id}"))
                            .put("until_contains", "\"status\":\"completed\"").put("poll_ms", 1000).put("timeout_ms", 600_000));
            long t0 = System.nanoTime();
            Process harness = McpHarness.launch(tmp.resolve("mcp"), steps, state.root, Map.of("ANTHROPIC_API_KEY", CREDENTIAL), mac.prefix());
            started.add(harness);
            McpHarness.Run run = McpHarness.collect(harness, tmp.resolve("mcp"), 720);
            System.out.printf("simulated Mac: Claude Code task (MCP server start to merged) %.1f s%n", (System.nanoTime() - t0) / 1e9);
            assertThat(run.step(1).getJsonObject("structured").getString("status")).as(run.describe()).isEqualTo("completed");
            assertThat(state.git("show", "main:arch.txt").strip()).isEqualTo("aarch64");
            String credential = ScriptedUpstream.sha256(CREDENTIAL);
            assertThat(upstream.scriptedCalls()).as("Claude Code's turns reached the upstream through the proxy").hasSizeGreaterThanOrEqualTo(2)
                    .allMatch(r -> credential.equals(r.getString("x-api-key-sha256")));
        }
    }

    @Test
    void aVmWhoseOrchestratorWasKilledIsReattachedAndCancelledThroughTheRestApi() throws Exception {
        try (SimulatedMac mac = SimulatedMac.up(tmp, "10.203.0.1/24")) {
            E2eState state = state(mac, "http://127.0.0.1:9");
            // the repository has a flake: the agent runs inside nix develop (arm64 Nix, its store on the vfkit cache disk)
            Files.copy(TestGuest.projectDir().resolve("src/test/resources/fixtures/nix-devshell/flake.nix"), state.repo.resolve("flake.nix"));
            state.git("add", "flake.nix");
            state.git("commit", "-q", "-m", "a flake with a devShell");
            List<String> cmd = new ArrayList<>(mac.prefix());
            cmd.addAll(JavaProcess.builder(dev.microvm.orchestrator.cli.Main.class, "run", "--state-dir", state.root.toString(),
                    "--repo", "project", "--network", "none", "--agent-command", "sleep 600", "cancel me").command());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("orchestrator.log").toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("ANTHROPIC_") || k.startsWith("CLAUDE_CODE_"));
            Process first = pb.start();
            started.add(first);
            String taskId = awaitRunning(state, first);
            awaitConsole(state, taskId, "mvo-runner: running agent command");
            assertThat(Files.readString(state.paths.taskConsoleLog(taskId))).as("the devShell was built in the arm64 guest")
                    .contains("mvo-runner: nix develop: ready (1 derivation(s) built");
            first.destroyForcibly();   // SIGKILL: ip netns exec has become the JVM
            assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
            ProcessHandle vfkit = simulators().findFirst().orElseThrow(() -> new AssertionError("vfkit died with the orchestrator"));

            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${env.MVO_E2E_TASK}")))
                    .add(McpHarness.call("cancel_task", new JsonObject().put("task_id", "${env.MVO_E2E_TASK}")))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${env.MVO_E2E_TASK}"))
                            .put("until_contains", "\"status\":\"cancelled\"").put("poll_ms", 1000).put("timeout_ms", 180_000));
            Process harness = McpHarness.launch(tmp.resolve("mcp"), steps, state.root, Map.of("MVO_E2E_TASK", taskId), mac.prefix());
            started.add(harness);
            McpHarness.Run run = McpHarness.collect(harness, tmp.resolve("mcp"), 300);
            assertThat(run.step(0).getJsonObject("structured").getString("status")).as(run.describe()).isEqualTo("running");
            JsonObject info = run.step(2).getJsonObject("structured");
            assertThat(info.getString("status")).as(run.describe()).isEqualTo("cancelled");
            assertThat(vfkit.onExit().orTimeout(30, TimeUnit.SECONDS).join().isAlive()).isFalse();
            assertThat(Files.readString(state.paths.taskConsoleLog(taskId)))
                    .as("REST Stop pressed the guest's power button").contains("mvo-init: power button")
                    // the agent (exec'd through setpriv, nix develop and its bash) ended on the TERM and the runner finished
                    .as("the TERM reached the agent through nix develop").containsPattern("(?s)asked to stop; ending the agent.*agent exited with \\d+.*mvo-runner: done");
            assertThat(simulators()).isEmpty();
        }
    }

    private E2eState state(SimulatedMac mac, String upstream) throws Exception {
        Path guest = TestGuest.agentArm64().dir;
        return E2eState.create(tmp, 1, new JsonObject().put("driver", "vfkit").put("vfkit_binary", mac.vfkit.toString())
                .put("guest_dir", guest.toString()).put("vm_cpus", 2).put("vm_memory_mib", 1024)
                .put("boot_timeout_seconds", 300).put("api_upstream", upstream));
    }

    private Process start(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("service.log").toFile()).start();
        started.add(p);
        return p;
    }

    private static String awaitRunning(E2eState state, Process orchestrator) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.isDirectory(state.paths.tasksDir())) {
                try (Stream<Path> s = Files.list(state.paths.tasksDir())) {
                    for (Path p : s.toList()) {
                        JsonObject rec = state.taskRecord(p.getFileName().toString());
                        if (rec != null && "running".equals(rec.getString("state", rec.getString("status")))) return p.getFileName().toString();
                    }
                }
            }
            assertThat(orchestrator.isAlive()).as("the orchestrator runs").isTrue();
            Thread.sleep(200);
        }
        throw new AssertionError("the task never reached running");
    }

    private static void awaitConsole(E2eState state, String taskId, String line) throws Exception {
        Path console = state.paths.taskConsoleLog(taskId);
        long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(console) && Files.readString(console).contains(line)) return;
            Thread.sleep(200);
        }
        throw new AssertionError("the guest never printed '" + line + "':\n" + (Files.exists(console) ? Files.readString(console) : "(no console)"));
    }

    /** The vfkit simulators this test started (their command lines name its temporary directory). */
    private Stream<ProcessHandle> simulators() {
        return ProcessHandle.allProcesses().filter(ph -> ph.isAlive()
                && ph.info().commandLine().orElse("").contains("vfkit-simulator")
                && ph.info().commandLine().orElse("").contains(tmp.toString()));
    }

}
