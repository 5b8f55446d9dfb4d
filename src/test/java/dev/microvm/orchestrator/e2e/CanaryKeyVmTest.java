package dev.microvm.orchestrator.e2e;

import dev.microvm.orchestrator.testing.JavaProcess;
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
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A unique fake API key (the canary) is the orchestrator's only credential. A real task in QEMU
 * calls the Messages API through the credential proxy with its placeholder; the canary must
 * reach the upstream and appear nowhere else: not in the orchestrator's output, the state
 * directory (events, task records, console, guest io), the user's repository, nor in the command
 * line or environment of any other process while the VM runs.
 */
@Tag("vm")
class CanaryKeyVmTest {

    @TempDir Path tmp;
    private Process orchestrator;

    @AfterEach
    void stop() {
        if (orchestrator != null) orchestrator.destroyForcibly();
    }

    @Test
    void theCanaryKeyReachesTheUpstreamThroughTheProxyAndLeaksNowhereElse() throws Exception {
        String canary = "sk-ant-api03-canary-" + UUID.randomUUID();
        try (FakeUpstream upstream = new FakeUpstream()) {
            E2eState state = E2eState.create(tmp, 1, new JsonObject().put("api_upstream", "http://127.0.0.1:" + upstream.port()));
            String agent = "sleep 4; "
                    + "wget -q -O response.json --header \"x-api-key: $ANTHROPIC_API_KEY\" --header 'anthropic-version: 2023-06-01' "
                    + "--header 'content-type: application/json' "
                    + "--post-data '{\"model\":\"claude-e2e\",\"max_tokens\":8,\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' "
                    + "\"$ANTHROPIC_BASE_URL/v1/messages\"; echo \"wget_exit=$?\" > wget.txt; "
                    + "env | grep '^ANTHROPIC_' | sort > guest-env.txt; "
                    + "git add response.json wget.txt guest-env.txt && git commit -q -m 'Called the API'";
            ProcessBuilder pb = JavaProcess.builder(dev.microvm.orchestrator.cli.Main.class, "run", "--state-dir", state.root.toString(),
                    "--repo", "project", "--agent-command", agent, "call the API once");
            pb.environment().keySet().removeIf(k -> k.startsWith("ANTHROPIC_") || k.startsWith("CLAUDE_CODE_"));
            pb.environment().put("ANTHROPIC_API_KEY", canary);
            orchestrator = pb.redirectOutput(tmp.resolve("node.stdout").toFile()).redirectError(tmp.resolve("node.stderr").toFile()).start();

            List<String> leaks = new ArrayList<>();
            int scans = 0;
            while (!orchestrator.waitFor(300, TimeUnit.MILLISECONDS)) {
                if (CrashSupport.anyQemuFor(state.root)) {
                    scans++;
                    leaks.addAll(processesHolding(canary, orchestrator.pid()));
                }
                assertThat(scans < 2000).isTrue();
            }
            String stdout = Files.readString(tmp.resolve("node.stdout"));
            String stderr = Files.readString(tmp.resolve("node.stderr"));
            assertThat(orchestrator.exitValue()).as(stdout + stderr).isZero();
            assertThat(scans).as("the process table was scanned while the VM ran").isPositive();
            assertThat(leaks).as("processes whose argv or environment hold the real key").isEmpty();
            assertThat(ProcessHandle.of(orchestrator.pid())).isEmpty();

            // the upstream got the real key, and only through the proxy
            assertThat(upstream.received).as(stderr).isNotEmpty();
            FakeUpstream.Received call = upstream.received.getFirst();
            assertThat(call.path()).isEqualTo("/v1/messages");
            assertThat(call.header("x-api-key")).isEqualTo(canary);

            // the guest saw a placeholder and the proxy's address, got the upstream's answer, and committed it
            assertThat(state.git("log", "-1", "--format=%s", "main")).isEqualTo("Called the API");
            assertThat(Files.readString(state.repo.resolve("wget.txt")).strip()).isEqualTo("wget_exit=0");
            assertThat(Files.readString(state.repo.resolve("response.json"))).contains(FakeUpstream.REPLY_TEXT);
            String guestEnv = Files.readString(state.repo.resolve("guest-env.txt"));
            assertThat(guestEnv).contains("ANTHROPIC_BASE_URL=http://10.0.2.100").contains("ANTHROPIC_API_KEY=").doesNotContain(canary);

            assertThat(stdout).doesNotContain(canary);
            assertThat(stderr).doesNotContain(canary);
            assertThat(filesHolding(tmp, canary)).as("files under the test directory (state dir, logs, repository)").isEmpty();
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
