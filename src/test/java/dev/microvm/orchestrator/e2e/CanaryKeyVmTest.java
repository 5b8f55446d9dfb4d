package dev.microvm.orchestrator.e2e;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A unique fake API key (the canary) is the only credential of a real {@code microvm-orchestrator mcp}
 * process driven by the TypeScript MCP client. A task in QEMU calls the Messages API through the
 * credential proxy with its placeholder; the canary must reach the upstream and appear nowhere
 * else: not in the MCP output or the server's log, the state directory (events, task records,
 * console, guest io), the event stream's WebSocket frames, the user's repository, nor in the
 * command line or environment of any process but the server itself while the VM runs.
 */
@Tag("vm")
class CanaryKeyVmTest {

    @TempDir Path tmp;
    private Process harness;
    private final EventStreamTap stream = new EventStreamTap();

    @AfterEach
    void stop() {
        McpHarness.destroy(harness);
        stream.close();
    }

    @Test
    void theCanaryKeyReachesTheUpstreamThroughTheProxyAndLeaksNowhereElse() throws Exception {
        String canary = "sk-ant-api03-canary-" + UUID.randomUUID();
        try (FakeUpstream upstream = new FakeUpstream()) {
            int httpPort = EventStreamTap.freePort();
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("api_upstream", "http://127.0.0.1:" + upstream.port())
                    .put("http_port", httpPort));
            String agent = "sleep 4; "
                    + "wget -q -O response.json --header \"x-api-key: $ANTHROPIC_API_KEY\" --header 'anthropic-version: 2023-06-01' "
                    + "--header 'content-type: application/json' "
                    + "--post-data '{\"model\":\"claude-e2e\",\"max_tokens\":8,\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' "
                    + "\"$ANTHROPIC_BASE_URL/v1/messages\"; echo \"wget_exit=$?\" > wget.txt; "
                    + "env | grep '^ANTHROPIC_' | sort > guest-env.txt; cat response.json; "
                    + "git add response.json wget.txt guest-env.txt && git commit -q -m 'Called the API'";
            JsonArray steps = new JsonArray()
                    .add(McpHarness.call("run_task", new JsonObject().put("repo", "project").put("description", "call the API once")
                            .put("agent_command", agent)).put("save", "t"))
                    .add(McpHarness.call("wait_next_event", new JsonObject().put("timeout_ms", 200_000)).put("timeout_ms", 210_000))
                    .add(McpHarness.call("get_task_info", new JsonObject().put("task_id", "${t.task_id}")))
                    .add(McpHarness.call("get_task_logs", new JsonObject().put("task_id", "${t.task_id}").put("stream", "agent")))
                    .add(McpHarness.call("get_task_logs", new JsonObject().put("task_id", "${t.task_id}")))
                    .add(McpHarness.call("get_task_diff", new JsonObject().put("task_id", "${t.task_id}")));
            Path dir = tmp.resolve("harness");
            harness = McpHarness.launchWithPrivateEnv(dir, steps, state.root, Map.of("ANTHROPIC_API_KEY", canary));

            List<String> leaks = new ArrayList<>();
            int scans = 0;
            boolean serverHoldsKey = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
            while (harness.isAlive() && System.nanoTime() < deadline) {
                stream.tryConnect(dir.resolve("server.stderr"));
                if (CrashSupport.anyQemuFor(state.root)) {
                    scans++;
                    long server = harness.descendants().filter(ph -> ph.info().command().orElse("").endsWith("java"))
                            .findFirst().map(ProcessHandle::pid).orElse(-1L);
                    leaks.addAll(processesHolding(canary, server));
                    // control: the scan does see the key where it legitimately is, in the server's environment
                    if (server > 0) serverHoldsKey |= processesHolding(canary, -1).stream().anyMatch(l -> l.startsWith(server + "/environ"));
                }
                Thread.sleep(300);
            }
            McpHarness.Run run = McpHarness.collect(harness, dir, 30);
            String why = run.describe();
            assertThat(run.summary().getInteger("failed")).as(why).isZero();
            assertThat(run.step(1).getJsonObject("structured").getString("status")).as(why).isEqualTo("completed");
            assertThat(run.step(3).getJsonObject("structured").getString("content")).as(why).contains(FakeUpstream.REPLY_TEXT);
            assertThat(scans).as("the process table was scanned while the VM ran").isPositive();
            assertThat(leaks).as("processes whose argv or environment hold the real key").isEmpty();
            assertThat(serverHoldsKey).as("the scan found the key in the server's own environment").isTrue();

            // the upstream got the real key, and only through the proxy
            assertThat(upstream.received).as(why).isNotEmpty();
            FakeUpstream.Received call = upstream.received.getFirst();
            assertThat(call.path()).isEqualTo("/v1/messages");
            assertThat(call.header("x-api-key")).isEqualTo(canary);

            // the guest saw a placeholder and the proxy's address, got the upstream's answer, and committed it
            assertThat(state.git("log", "-1", "--format=%s", "main")).isEqualTo("Called the API");
            assertThat(Files.readString(state.repo.resolve("wget.txt")).strip()).isEqualTo("wget_exit=0");
            assertThat(Files.readString(state.repo.resolve("response.json"))).contains(FakeUpstream.REPLY_TEXT);
            String guestEnv = Files.readString(state.repo.resolve("guest-env.txt"));
            assertThat(guestEnv).contains("ANTHROPIC_BASE_URL=http://10.0.2.100").contains("ANTHROPIC_API_KEY=").doesNotContain(canary);

            // the live event stream carried the task's events, and never the key
            assertThat(stream.text()).as("WebSocket frames").contains(run.step(0).getJsonObject("structured").getString("task_id"))
                    .contains("completed").doesNotContain(canary);
            assertThat(filesHolding(tmp, canary)).as("files under the test directory (state dir, MCP output, server log, repository)").isEmpty();
            assertThat(state.git("log", "-p", "--all")).doesNotContain(canary);
        }
    }

    /** Every readable /proc/PID/{cmdline,environ} holding {@code secret}, except the orchestrator's own environment. */
    static List<String> processesHolding(String secret, long orchestratorPid) {
        byte[] needle = secret.getBytes(StandardCharsets.UTF_8);
        List<String> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
                long pid = Long.parseLong(p.getFileName().toString());
                for (String file : List.of("cmdline", "environ")) {
                    if (pid == orchestratorPid && file.equals("environ")) continue; // its credential, by design
                    // the JDK starts its launch helper with the parent's environment; the helper
                    // execs the real child with the child's own environment a moment later
                    if (file.equals("environ") && isLaunchHelperOf(pid, orchestratorPid)) continue;
                    try {
                        if (contains(Files.readAllBytes(p.resolve(file)), needle)) {
                            found.add(pid + "/" + file + ": " + ProcessHandle.of(pid).flatMap(h -> h.info().commandLine()).orElse("?"));
                        }
                    } catch (IOException | SecurityException e) {
                        // gone, or another user's process
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }

    private static boolean isLaunchHelperOf(long pid, long orchestratorPid) {
        return orchestratorPid > 0 && ProcessHandle.of(pid).filter(h -> h.info().command().orElse("").endsWith("/jspawnhelper"))
                .flatMap(ProcessHandle::parent).map(h -> h.pid() == orchestratorPid).orElse(false);
    }

    static List<Path> filesHolding(Path root, String secret) throws IOException {
        byte[] needle = secret.getBytes(StandardCharsets.UTF_8);
        List<Path> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).toList()) {
                if (containsStreaming(f, needle)) found.add(f);
            }
        }
        return found;
    }

    private static boolean containsStreaming(Path file, byte[] needle) throws IOException {
        try (var in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            byte[] carry = new byte[0];
            int n;
            while ((n = in.read(buf)) > 0) {
                byte[] window = new byte[carry.length + n];
                System.arraycopy(carry, 0, window, 0, carry.length);
                System.arraycopy(buf, 0, window, carry.length, n);
                if (contains(window, needle)) return true;
                int keep = Math.min(needle.length - 1, window.length);
                carry = java.util.Arrays.copyOfRange(window, window.length - keep, window.length);
            }
        }
        return false;
    }

    static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return true;
        }
        return false;
    }
}
