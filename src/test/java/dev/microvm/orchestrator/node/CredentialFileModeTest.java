package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.secrets.CredentialKind;
import dev.microvm.orchestrator.secrets.Secret;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The opt-in path that hands the real key to the agent: a 0600 file, read and deleted by the runner. */
class CredentialFileModeTest {

    @TempDir Path tmp;

    @Test
    void theKeyReachesTheAgentOnlyThroughAFileThatIsGoneBeforeTheAgentRunsAndAppearsNowhereElse() throws Exception {
        String canary = "sk-ant-api03-canary-" + Long.toHexString(System.nanoTime()) + "-filemode";
        Path repo = GitRepos.create(tmp.resolve("project"));
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "process", tmp.resolve("no-guest"), 1)
                .merge(new JsonObject().put("credential_mode", "file"), "test");
        Credential credential = new Credential(CredentialKind.API_KEY, Secret.of(canary), "test");
        try (NodeFixture f = NodeFixture.start(state, config, new ProcessDriver(), credential)) {
            f.node.repos().allow(repo, "project");
            // the agent proves it holds the key without ever printing it
            String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(canary.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            String agent = "printf %s \"$ANTHROPIC_API_KEY\" | sha256sum | grep -q " + sha + " && echo key-present > key.txt; "
                    + "test -e \"$MVO_IO_DIR/credential.env\" && echo file-still-there >> key.txt; "
                    + "git add key.txt && git commit -qm 'report'";
            String id = f.submit("project", "check the key", new JsonObject().put("agent_command", agent)).getString("task_id");
            JsonObject done = f.awaitTerminal(id, Duration.ofSeconds(60));
            assertThat(done.getString("status")).as(done.encodePrettily()).isEqualTo("completed");
            assertThat(Files.readString(repo.resolve("key.txt"))).isEqualTo("key-present\n");

            StatePaths paths = new StatePaths(state);
            assertThat(paths.taskIo(id).resolve("credential.env")).doesNotExist();
            try (Stream<Path> files = Files.walk(state)) {
                for (Path p : files.filter(Files::isRegularFile).toList()) {
                    if (p.toString().contains("/workspace/.git/objects/")) continue; // compressed objects
                    assertThat(new String(Files.readAllBytes(p))).as(p.toString()).doesNotContain(canary);
                }
            }
            assertThat(done.encode()).doesNotContain(canary);
        }
    }
}
