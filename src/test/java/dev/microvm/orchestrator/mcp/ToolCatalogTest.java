package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.vm.GuestImage;
import io.modelcontextprotocol.spec.McpSchema;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class ToolCatalogTest {

    private static final ToolCatalog CATALOG = ToolCatalog.load();

    private static JsonObject run(Object... more) {
        JsonObject args = new JsonObject().put("description", "add a README").put("repo", "demo");
        for (int i = 0; i < more.length; i += 2) args.put((String) more[i], more[i + 1]);
        return args;
    }

    static Stream<Arguments> badCalls() {
        return Stream.of(
                Arguments.of("run_task", run("timout_seconds", 60), "run_task: unknown argument 'timout_seconds'; known arguments: agent_command, "
                        + "allowed_domains, base, cpus, description, fresh_setup, include_uncommitted, memory_mib, merge_strategy, network, repo, timeout_seconds, untracked_patterns"),
                Arguments.of("run_task", new JsonObject().put("repo", "demo"), "run_task: missing required argument 'description'"),
                Arguments.of("run_task", run("description", ""), "run_task: argument 'description' must be a string of 1 to 200000 characters (got \"\")"),
                Arguments.of("run_task", run("description", "x".repeat(200_001)), "run_task: argument 'description' must be a string of 1 to 200000 characters (got \"xxxx"),
                Arguments.of("run_task", run("cpus", "four"), "run_task: argument 'cpus' must be an integer between 1 and 64 (got \"four\")"),
                Arguments.of("run_task", run("memory_mib", 1 << 20), "run_task: argument 'memory_mib' must be an integer between 256 and 262144 (got 1048576)"),
                Arguments.of("run_task", run("merge_strategy", "BRANCH"), "run_task: argument 'merge_strategy' must be one of auto, branch, none (got \"BRANCH\")"),
                Arguments.of("run_task", run("network", "open"), "run_task: argument 'network' must be one of full, allowlist, api-only, none (got \"open\")"),
                Arguments.of("run_task", run("base", "-x"), "run_task: argument 'base' must be a branch name or commit id"),
                Arguments.of("run_task", run("untracked_patterns", new JsonArray().add("../secret")), "run_task: argument 'untracked_patterns[0]' must be a relative glob without '..'"),
                Arguments.of("continue_task", new JsonObject().put("task_id", "t-1").put("prompt", "again").put("cpu", 2), "continue_task: unknown argument 'cpu'"),
                Arguments.of("continue_task", new JsonObject().put("task_id", "T_1").put("prompt", "again"),
                        "continue_task: argument 'task_id' must be a task id as run_task returned it (lower-case letters, digits and '-') (got \"T_1\")"),
                Arguments.of("continue_task", new JsonObject().put("task_id", "t-1"), "continue_task: missing required argument 'prompt'"),
                Arguments.of("get_task_info", new JsonObject(), "get_task_info: missing required argument 'task_id'"),
                Arguments.of("get_task_logs", new JsonObject().put("task_id", "t-1").put("tail", 0), "get_task_logs: argument 'tail' must be an integer between 1 and 10000 (got 0)"),
                Arguments.of("get_task_logs", new JsonObject().put("task_id", "t-1").put("stream", "stderr"), "get_task_logs: argument 'stream' must be one of console, agent (got \"stderr\")"),
                Arguments.of("get_task_logs", new JsonObject().put("task_id", "t-1").put("offset", -1), "get_task_logs: argument 'offset' must be an integer of at least 0 (got -1)"),
                Arguments.of("get_task_diff", new JsonObject().put("task_id", "t-1").put("limit", 0), "get_task_diff: argument 'limit' must be an integer between 1 and 262144 (got 0)"),
                Arguments.of("wait_next_event", new JsonObject().put("timeout_ms", -1), "wait_next_event: argument 'timeout_ms' must be an integer between 0 and 86400000 (got -1)"),
                Arguments.of("wait_next_event", new JsonObject().put("all_tasks", "yes"), "wait_next_event: argument 'all_tasks' must be true or false (got \"yes\")"),
                Arguments.of("cleanup_task", new JsonObject().put("task_id", "t-1").put("delete_refs", true), "cleanup_task: unknown argument 'delete_refs'; known arguments: delete_ref, task_id"),
                Arguments.of("list_repos", new JsonObject().put("all", true), "list_repos: unknown argument 'all'; known arguments: "),
                Arguments.of("list_tasks", new JsonObject().put("status", "done"), "list_tasks: argument 'status' must be one of queued, starting, running"),
                Arguments.of("list_slots", new JsonObject().put("node", "a"), "list_slots: unknown argument 'node'"),
                Arguments.of("cancel_task", new JsonObject().put("task_id", 7), "cancel_task: argument 'task_id' must be a task id as run_task returned it"),
                Arguments.of("merge_task", new JsonObject().put("task_id", "t-1").put("strategy", "squash"), "merge_task: argument 'strategy' must be one of auto, branch, none (got \"squash\")"));
    }

    @ParameterizedTest(name = "{0} {1} is refused with: {2}")
    @MethodSource("badCalls")
    void everyBadCallIsRefusedWithAMessageNamingTheToolAndTheArgument(String tool, JsonObject args, String message) {
        assertThat(String.join("\n", CATALOG.violations(tool, args))).contains(message);
    }

    @Test
    void everyToolIsCoveredByTheTableAndAcceptsAGoodCall() {
        assertThat(badCalls().map(a -> (String) a.get()[0]).distinct()).containsExactlyInAnyOrderElementsOf(CATALOG.names());
        Map<String, JsonObject> good = Map.ofEntries(
                Map.entry("run_task", run("cpus", 2, "network", "allowlist", "allowed_domains", new JsonArray().add("example.com"),
                        "untracked_patterns", new JsonArray().add(".env"), "base", "refs/tasks/t-1", "include_uncommitted", true)),
                Map.entry("continue_task", new JsonObject().put("task_id", "t-1").put("prompt", "again").put("merge_strategy", "none")),
                Map.entry("get_task_info", new JsonObject().put("task_id", "t-1")),
                Map.entry("get_task_logs", new JsonObject().put("task_id", "t-1").put("tail", 10).put("stream", "agent")),
                Map.entry("get_task_diff", new JsonObject().put("task_id", "t-1").put("offset", 0)),
                Map.entry("wait_next_event", new JsonObject().put("timeout_ms", 0).put("all_tasks", true)),
                Map.entry("cleanup_task", new JsonObject().put("task_id", "t-1").put("delete_ref", true)),
                Map.entry("list_repos", new JsonObject()),
                Map.entry("list_tasks", new JsonObject().put("status", "active").put("repo", "demo")),
                Map.entry("list_slots", new JsonObject()),
                Map.entry("cancel_task", new JsonObject().put("task_id", "t-1")),
                Map.entry("merge_task", new JsonObject().put("task_id", "t-1").put("strategy", "branch")));
        assertThat(good.keySet()).containsExactlyInAnyOrderElementsOf(CATALOG.names());
        good.forEach((tool, args) -> assertThat(CATALOG.violations(tool, args)).as(tool).isEmpty());
    }

    @Test
    void everyAdvertisedInputIsClosedAndEveryArgumentTyped() {
        for (String name : CATALOG.names()) {
            McpSchema.Tool tool = CATALOG.tool(name);
            JsonObject input = new JsonObject(tool.inputSchema());
            assertThat(input.getBoolean("additionalProperties")).as(name).isFalse();
            input.getJsonObject("properties").forEach(p -> assertThat(((JsonObject) p.getValue()).getString("type"))
                    .as(name + "." + p.getKey()).isNotNull());
        }
    }

    @Test
    void theTaskToolsAdvertiseExactlyTheTaskOptionsSchema() {
        for (String name : new String[]{"run_task", "continue_task"}) {
            JsonObject properties = new JsonObject(CATALOG.tool(name).inputSchema()).getJsonObject("properties");
            assertThat(properties.fieldNames()).as(name).containsAll(TaskOptions.SCHEMA.propertyNames());
        }
    }

    private static String runTaskDescription(GuestFeatures guest) {
        return ToolCatalog.load(guest).tool("run_task").description();
    }

    @Test
    void theRunTaskDescriptionPromisesOnlyWhatTheDefaultGuestImageOffers() {
        String unknown = runTaskDescription(GuestFeatures.unknown());
        assertThat(unknown).as("image unreadable: nothing either way").startsWith(CATALOG.tool("run_task").description())
                .doesNotContainIgnoringCase("container").doesNotContainIgnoringCase("docker").doesNotContainIgnoringCase("podman")
                .doesNotContainIgnoringCase("nix");
        assertThat(unknown).isEqualTo(CATALOG.tool("run_task").description());

        String plain = runTaskDescription(GuestFeatures.of(Set.of()));
        assertThat(plain).startsWith(unknown).contains("no container runtime")
                .doesNotContain("also as docker").doesNotContain("--network=host").doesNotContainIgnoringCase("nix");

        String both = runTaskDescription(GuestFeatures.of(Set.of(GuestImage.FEATURE_CONTAINERS, GuestImage.FEATURE_NIX)));
        assertThat(both).startsWith(unknown).contains("podman, also as docker, and compose").contains("--network=host")
                .contains("nix develop").contains("nix_develop: false").doesNotContain("no container runtime");

        String nixOnly = runTaskDescription(GuestFeatures.of(Set.of(GuestImage.FEATURE_NIX)));
        assertThat(nixOnly).contains("no container runtime").contains("nix develop").doesNotContain("--network=host");
        assertThat(ToolCatalog.load(GuestFeatures.of(Set.of(GuestImage.FEATURE_CONTAINERS))).tool("continue_task").description())
                .isEqualTo(CATALOG.tool("continue_task").description());
    }

    @Test
    void guestNotesNameOnlyFeaturesAGuestImageManifestCanList() throws Exception {
        JsonObject doc;
        try (var in = ToolCatalog.class.getResourceAsStream(ToolCatalog.RESOURCE)) {
            doc = new JsonObject(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        }
        for (Object o : doc.getJsonArray("tools")) {
            JsonObject notes = ((JsonObject) o).getJsonObject("guest_notes", new JsonObject());
            assertThat(GuestImage.FEATURES).as(((JsonObject) o).getString("name")).containsAll(notes.fieldNames());
            notes.forEach(n -> assertThat(((JsonObject) n.getValue()).fieldNames()).as(n.getKey()).isSubsetOf("with", "without"));
        }
    }
}
