package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.testing.NodeFixture;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.TestGuest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Warm slots with real VMs and the agent image: setup's caches survive to the next task of the
 * repository on the slot and its setup is skipped; another repository's guest, even as root, never
 * sees them.
 */
@Tag("vm")
class WarmSlotVmTest {

    @TempDir Path tmp;

    /** Setup stamps a marker into the workspace cache and a home cache; the agent commits what it finds. */
    static final String ENVIRONMENT = """
            {"setup": ["mkdir -p node_modules ~/.cache/tool && cat /proc/sys/kernel/random/uuid > node_modules/marker && cp node_modules/marker ~/.cache/tool/marker && echo setup-ran-here"],
             "cache": ["node_modules", "~/.cache/tool"],
             "setup_inputs": ["package-lock.json"]}
            """;
    static final String LOOK = "cat node_modules/marker > seen-ws.txt; cat ~/.cache/tool/marker > seen-home.txt; echo $MVO_TASK_ID > task.txt; "
            + "git add -f seen-ws.txt seen-home.txt task.txt && git commit -q -m seen";

    @Test
    void theSecondTaskOfARepositoryFindsSetupsCachesAndSkipsSetupUntilItsInputsChange() throws Exception {
        Path repo = repoWithEnvironment(tmp.resolve("project"), ENVIRONMENT);
        Path state = tmp.resolve("state");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", TestGuest.agent().dir, 1);
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(repo, "project");
            Run first = run(f, repo, "project", new JsonObject());
            assertThat(first.console).contains("setup: starting").contains("setup-ran-here").contains("cache node_modules: saved after setup");
            assertThat(first.ws).as("setup's workspace marker").matches("[0-9a-f-]{36}").isEqualTo(first.home);

            Run second = run(f, repo, "project", new JsonObject());
            assertThat(second.console).contains("setup skipped: its key is unchanged").doesNotContain("setup-ran-here")
                    .contains("cache node_modules: restored before setup and the agent")
                    .contains("cache ~/.cache/tool: restored before setup and the agent");
            assertThat(second.ws).as("the first task's setup marker, from the cache").isEqualTo(first.ws);
            assertThat(second.home).isEqualTo(first.home);

            JsonObject slots = f.request(Addresses.SLOT_LIST, new JsonObject());
            JsonArray held = slots.getJsonArray("storage");
            assertThat(held).hasSize(1);
            JsonObject kept = held.getJsonObject(0).getJsonArray("repositories").getJsonObject(0);
            assertThat(kept.getString("repo")).isEqualTo(repo.toRealPath().toString());
            assertThat(kept.getString("arch")).isEqualTo("x86_64");
            assertThat(kept.getString("setup_at")).isNotNull();
            assertThat(kept.getLong("image_bytes")).isPositive().isLessThan(kept.getLong("image_size"));

            Run forced = run(f, repo, "project", new JsonObject().put("fresh_setup", true));
            assertThat(forced.console).contains("setup-ran-here");
            assertThat(forced.ws).isNotEqualTo(first.ws);

            Files.writeString(repo.resolve("package-lock.json"), "{\"lockfileVersion\": 3, \"changed\": true}\n");
            GitRepos.git(repo, "commit", "-q", "-am", "a new lockfile");
            Run relocked = run(f, repo, "project", new JsonObject());
            assertThat(relocked.console).as("a changed setup input runs setup again").contains("setup-ran-here");
            assertThat(relocked.ws).isNotEqualTo(forced.ws);
        }
    }

    @Test
    void aGuestOfAnotherRepositoryEvenAsRootNeverSeesTheFirstRepositorysCacheDisk() throws Exception {
        Path a = repoWithEnvironment(tmp.resolve("a"), """
                {"setup": ["mkdir -p node_modules && echo CANARY-of-repository-A-$((6 * 7))-kept > node_modules/canary"], "cache": ["node_modules"]}
                """);
        Path b = repoWithEnvironment(tmp.resolve("b"), """
                {"cache": ["node_modules"]}
                """);
        Path state = tmp.resolve("state");
        Path rootImage = TestGuest.agent().derived(tmp.resolve("root-image"), "mvo.test.agent_as_root=1");
        OrchestratorConfig config = NodeFixture.config(state, "qemu", rootImage, 1);
        try (NodeFixture f = NodeFixture.start(state, config, Drivers.create(config, new StatePaths(state)))) {
            f.node.repos().allow(a, "a");
            f.node.repos().allow(b, "b");
            JsonObject doneA = f.awaitTerminal(f.submit("a", "setup only", new JsonObject().put("agent_command", "true")).getString("task_id"),
                    Duration.ofMinutes(4));
            assertThat(doneA.getString("status")).as(doneA.encodePrettily()).isIn("completed", "failed");
            Path imageA;
            try (var images = Files.list(new StatePaths(state).slotDir(0).resolve("cache"))) {
                imageA = images.filter(p -> p.getFileName().toString().startsWith("a-") && p.toString().endsWith(".img")).findFirst().orElseThrow();
            }
            assertThat(contains(imageA, "CANARY-of-repository-A-42-kept")).as("A's canary is on A's cache image").isTrue();

            // B's guest runs as root on the same slot: it lists every disk by serial and searches each cache disk raw
            JsonObject doneB = f.awaitTerminal(f.submit("b", "search", new JsonObject().put("agent_command", SEARCH)).getString("task_id"),
                    Duration.ofMinutes(6));
            assertThat(doneB.getString("status")).as(doneB.encodePrettily()).isEqualTo("completed");
            assertThat(GitRepos.git(b, "show", "main:serials.txt").lines().filter(s -> !s.isBlank()).toList())
                    .containsExactly("mvo_cache", "mvo_slot", "mvo_store");
            assertThat(GitRepos.git(b, "show", "main:found.txt")).as("B's cache disk searched, nothing of A's found").isEqualTo("0\nend");

            // the same search in A's next guest finds the canary: the search itself works
            JsonObject againA = f.awaitTerminal(f.submit("a", "search", new JsonObject().put("agent_command", SEARCH)).getString("task_id"),
                    Duration.ofMinutes(6));
            assertThat(againA.getString("status")).as(againA.encodePrettily()).isEqualTo("completed");
            assertThat(GitRepos.git(a, "show", "main:found.txt")).as("A's own cache disk holds its canary").matches("[1-9]\\d*\nend");
        }
    }

    /** As root: every disk's serial, then each cache disk's raw bytes (NULs dropped, so no line is a GiB long) searched for A's canary. */
    static final String SEARCH = "for d in /sys/block/vd*; do cat $d/serial; echo; done | sort > serials.txt; "
            + "for d in /sys/block/vd*; do [ \"$(cat $d/serial)\" = mvo_cache ] && tr -d '\\000' < /dev/${d##*/} "
            + "| grep -a -c CANARY-of-repository-A-42 >> found.txt 2>&1; done; echo end >> found.txt; "
            + "git add -f serials.txt found.txt && git commit -q -m searched";

    record Run(String console, String ws, String home) {}

    private static Run run(NodeFixture f, Path repo, String alias, JsonObject options) throws Exception {
        String id = f.submit(alias, "look at the caches", options.copy().put("agent_command", LOOK)).getString("task_id");
        JsonObject done = f.awaitTerminal(id, Duration.ofMinutes(5));
        String console = Files.readString(f.node.paths().taskConsoleLog(id));
        assertThat(done.getString("status")).as(done.encodePrettily() + "\n" + console).isEqualTo("completed");
        return new Run(console, GitRepos.git(repo, "show", "main:seen-ws.txt"), GitRepos.git(repo, "show", "main:seen-home.txt"));
    }

    static Path repoWithEnvironment(Path dir, String environment) throws IOException {
        GitRepos.create(dir);
        Files.createDirectories(dir.resolve(".microvm"));
        Files.writeString(dir.resolve(".microvm/environment.json"), environment);
        Files.writeString(dir.resolve("package-lock.json"), "{\"lockfileVersion\": 3}\n");
        Files.writeString(dir.resolve(".gitignore"), "node_modules/\n");
        GitRepos.git(dir, "add", ".");
        GitRepos.git(dir, "commit", "-q", "-m", "environment");
        return dir;
    }

    /** Whether the (sparse) image holds {@code text}, read in 4 MiB pieces with overlap. */
    static boolean contains(Path image, String text) throws IOException {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        byte[] buf = new byte[4 << 20];
        try (InputStream in = Files.newInputStream(image)) {
            int kept = 0;
            int n;
            while ((n = in.readNBytes(buf, kept, buf.length - kept)) > 0) {
                int len = kept + n;
                String hay = new String(buf, 0, len, StandardCharsets.ISO_8859_1);
                if (hay.contains(text)) return true;
                kept = Math.min(needle.length, len);
                System.arraycopy(buf, len - kept, buf, 0, kept);
            }
        }
        return false;
    }
}
