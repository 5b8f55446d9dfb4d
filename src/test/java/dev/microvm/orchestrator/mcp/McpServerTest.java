package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The real SDK server over pipes, with a scripted node on the real event-bus addresses. */
class McpServerTest {

    static final String CALLER = "session-test-a";

    @TempDir Path stateDir;
    Vertx vertx;
    StatePaths paths;
    EventLog eventLog;
    ScriptedNode node;
    PipedMcpClient client;
    CountDownLatch inputClosed;
    String deploymentId;

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        paths = new StatePaths(stateDir);
        eventLog = new EventLog(paths.eventLog(), Clock.systemUTC());
        node = new ScriptedNode(vertx, eventLog);
        node.register().await();
        client = startServer(CALLER);
        client.initialize();
    }

    PipedMcpClient startServer(String caller) throws Exception {
        return startServer(caller, GuestFeatures.unknown());
    }

    PipedMcpClient startServer(String caller, GuestFeatures guest) throws Exception {
        PipedMcpClient c = new PipedMcpClient();
        inputClosed = new CountDownLatch(1);
        McpSettings settings = new McpSettings(paths, caller, c.serverIn, c.serverOut, Duration.ofMillis(100),
                Duration.ofMillis(100), Duration.ofSeconds(20), Duration.ofSeconds(5), "test").withGuest(guest);
        CountDownLatch closed = inputClosed;
        deploymentId = vertx.deployVerticle(new McpVerticle(settings, closed::countDown)).await();
        return c;
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        vertx.close().await();
    }

    @Test
    void every_tool_is_listed_with_schemas_annotations_and_always_load_meta() throws Exception {
        JsonArray tools = client.request("tools/list", new JsonObject()).getJsonObject("result").getJsonArray("tools");
        assertThat(tools.stream().map(t -> ((JsonObject) t).getString("name"))).containsExactlyInAnyOrder(
                "run_task", "get_task_info", "get_task_logs", "wait_next_event", "cleanup_task", "list_repos",
                "list_tasks", "list_slots", "cancel_task", "get_task_diff", "merge_task", "continue_task");
        for (Object o : tools) {
            JsonObject tool = (JsonObject) o;
            assertThat(tool.getJsonObject("_meta").getBoolean("anthropic/alwaysLoad")).as(tool.getString("name")).isTrue();
            assertThat(tool.getJsonObject("inputSchema").getString("type")).isEqualTo("object");
            assertThat(tool.getJsonObject("outputSchema").getString("type")).isEqualTo("object");
            JsonObject annotations = tool.getJsonObject("annotations");
            assertThat(annotations.getBoolean("readOnlyHint")).isNotNull();
            assertThat(annotations.getBoolean("destructiveHint")).isNotNull();
            assertThat(annotations.getBoolean("idempotentHint")).isNotNull();
        }
        JsonObject runTask = tools.stream().map(JsonObject.class::cast).filter(t -> t.getString("name").equals("run_task")).findFirst().orElseThrow();
        assertThat(runTask.getJsonObject("inputSchema").getJsonObject("properties").fieldNames())
                .contains("description", "repo", "base", "merge_strategy", "timeout_seconds", "cpus", "memory_mib",
                        "agent_command", "include_uncommitted", "untracked_patterns");
    }

    @Test
    void tools_list_describes_run_task_with_what_the_guest_image_offers() throws Exception {
        assertThat(runTaskDescription(client)).doesNotContain("podman").doesNotContain("nix develop");
        vertx.undeploy(deploymentId).await();
        client.close();
        client = startServer(CALLER, GuestFeatures.of(java.util.Set.of("containers")));
        client.initialize();
        assertThat(runTaskDescription(client)).contains("podman, also as docker, and compose").contains("--network=host")
                .doesNotContain("nix develop");
        vertx.undeploy(deploymentId).await();
        client.close();
        client = startServer(CALLER, GuestFeatures.of(java.util.Set.of("nix")));
        client.initialize();
        assertThat(runTaskDescription(client)).contains("no container runtime").contains("nix develop").doesNotContain("--network=host");
    }

    private static String runTaskDescription(PipedMcpClient c) throws Exception {
        JsonArray tools = c.request("tools/list", new JsonObject()).getJsonObject("result").getJsonArray("tools");
        return tools.stream().map(JsonObject.class::cast).filter(t -> t.getString("name").equals("run_task")).findFirst().orElseThrow()
                .getString("description");
    }

    @Test
    void run_task_sends_one_submit_request_with_the_caller_and_options() throws Exception {
        JsonObject result = client.callTool("run_task", new JsonObject().put("description", "add a README").put("repo", "demo")
                .put("base", "main").put("merge_strategy", "branch").put("cpus", 2).put("memory_mib", 2048)
                .put("untracked_patterns", new JsonArray().add("*.env")));
        assertThat(result.getBoolean("isError")).isFalse();
        String taskId = result.getJsonObject("structuredContent").getString("task_id");
        assertThat(taskId).startsWith("t-");
        assertThat(result.getJsonObject("structuredContent").getString("status")).isEqualTo("running");
        JsonObject submitted = node.requestsTo(Addresses.TASK_SUBMIT).getFirst();
        assertThat(submitted.getString("caller")).isEqualTo(CALLER);
        assertThat(submitted.getString("merge_strategy")).isEqualTo("branch");
        assertThat(submitted.getInteger("memory_mib")).isEqualTo(2048);
        assertThat(submitted.getJsonArray("untracked_patterns")).containsExactly("*.env");
    }

    @Test
    void unknown_repo_is_a_tool_error_that_says_how_to_register_it() throws Exception {
        JsonObject result = client.callTool("run_task", new JsonObject().put("description", "x").put("repo", "nope"));
        assertThat(result.getBoolean("isError")).isTrue();
        assertThat(text(result)).contains("unknown repository 'nope'").contains("microvm-orchestrator allow PATH");
    }

    @Test
    void unknown_task_and_invalid_arguments_are_tool_errors() throws Exception {
        JsonObject unknown = client.callTool("get_task_info", new JsonObject().put("task_id", "t-missing"));
        assertThat(unknown.getBoolean("isError")).isTrue();
        assertThat(text(unknown)).contains("unknown task 't-missing'").contains("list_tasks");

        JsonObject missing = client.callTool("run_task", new JsonObject().put("repo", "demo"));
        assertThat(missing.getBoolean("isError")).isTrue();
        assertThat(text(missing)).contains("description");

        JsonObject misspelt = client.callTool("run_task", new JsonObject().put("repo", "demo").put("description", "x").put("cpu", 2));
        assertThat(misspelt.getBoolean("isError")).isTrue();
        assertThat(node.requestsTo(Addresses.TASK_SUBMIT)).isEmpty();
    }

    @Test
    void arguments_that_break_the_tool_schema_are_refused_with_the_argument_named_before_any_bus_request() throws Exception {
        JsonObject misspelt = client.callTool("run_task", new JsonObject().put("repo", "demo").put("description", "x").put("timout_seconds", 60));
        assertThat(misspelt.getBoolean("isError")).isTrue();
        assertThat(text(misspelt)).startsWith("run_task: unknown argument 'timout_seconds'; known arguments: agent_command, allowed_domains, base,")
                .contains("timeout_seconds").doesNotContain("microvm-orchestrator allow");
        JsonObject range = client.callTool("continue_task", new JsonObject().put("task_id", "t-1").put("prompt", "again").put("cpus", 0));
        assertThat(text(range)).isEqualTo("continue_task: argument 'cpus' must be an integer between 1 and 64 (got 0)");
        JsonObject logs = client.callTool("get_task_logs", new JsonObject().put("task_id", "t-1").put("stream", "stderr"));
        assertThat(text(logs)).isEqualTo("get_task_logs: argument 'stream' must be one of console, agent (got \"stderr\")");
        assertThat(node.requestsTo(Addresses.TASK_SUBMIT)).isEmpty();
        assertThat(node.requestsTo(Addresses.TASK_CONTINUE)).isEmpty();
        assertThat(node.requestsTo(Addresses.TASK_LOGS)).isEmpty();
    }

    @Test
    void a_missing_node_is_reported_as_unreachable() throws Exception {
        node.unregister().await();
        JsonObject result = client.callTool("list_slots", new JsonObject());
        assertThat(result.getBoolean("isError")).isTrue();
        assertThat(text(result)).contains("not reachable").contains(Addresses.SLOT_LIST);
    }

    @Test
    void forwarding_tools_return_the_node_replies_as_structured_content() throws Exception {
        String id = runTask("[hold] inspect");
        assertThat(structured(client.callTool("get_task_info", new JsonObject().put("task_id", id))).getString("status")).isEqualTo("running");
        JsonObject logs = structured(client.callTool("get_task_logs", new JsonObject().put("task_id", id).put("offset", 5)));
        assertThat(logs.getString("content")).startsWith("ok\nagent: working on [hold] inspect");
        assertThat(node.requestsTo(Addresses.TASK_LOGS).getFirst().getInteger("offset")).isEqualTo(5);
        assertThat(structured(client.callTool("get_task_diff", new JsonObject().put("task_id", id))).getString("diff")).contains("+hello");
        assertThat(structured(client.callTool("list_repos", new JsonObject())).getJsonArray("repos")).hasSize(1);
        assertThat(structured(client.callTool("list_slots", new JsonObject())).getInteger("max_slots")).isEqualTo(2);
        assertThat(structured(client.callTool("list_tasks", new JsonObject().put("status", "active"))).getJsonArray("tasks")).hasSize(1);
        assertThat(structured(client.callTool("list_tasks", new JsonObject().put("status", "finished"))).getJsonArray("tasks")).isEmpty();
        assertThat(structured(client.callTool("cancel_task", new JsonObject().put("task_id", id))).getString("status")).isEqualTo("cancelled");
        assertThat(structured(client.callTool("merge_task", new JsonObject().put("task_id", id).put("strategy", "branch"))).getString("strategy")).isEqualTo("branch");
        assertThat(structured(client.callTool("cleanup_task", new JsonObject().put("task_id", id))).getBoolean("success")).isTrue();
        assertThat(node.requestsTo(Addresses.TASK_CLEANUP).getFirst().getBoolean("delete_ref")).isFalse();
        JsonObject followUp = structured(client.callTool("continue_task", new JsonObject().put("task_id", id).put("prompt", "now add tests")));
        assertThat(followUp.getString("task_id")).isNotEqualTo(id);
        assertThat(node.requestsTo(Addresses.TASK_CONTINUE).getFirst().getString("caller")).isEqualTo(CALLER);
    }

    @Test
    void wait_next_event_answers_no_running_tasks_at_once_when_nothing_can_arrive() throws Exception {
        long t0 = System.nanoTime();
        JsonObject result = structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 120_000)));
        assertThat(result.getBoolean("no_running_tasks")).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("answered at once, not after the wait").isLessThan(Duration.ofSeconds(15));
    }

    @Test
    void wait_next_event_returns_each_completion_once_then_no_running_tasks() throws Exception {
        String ok = runTask("[ms=300] good");
        String bad = runTask("[ms=600] [fail] bad");
        JsonObject first = structured(client.callTool("wait_next_event", new JsonObject()));
        JsonObject second = structured(client.callTool("wait_next_event", new JsonObject()));
        assertThat(first.getString("task_id")).isEqualTo(ok);
        assertThat(first.getString("event")).isEqualTo("completed");
        assertThat(first.getInteger("exit_code")).isZero();
        assertThat(first.getString("result")).isEqualTo("did: [ms=300] good");
        assertThat(first.getJsonObject("merge_result").getString("status")).isEqualTo("merged");
        assertThat(second.getString("task_id")).isEqualTo(bad);
        assertThat(second.getString("event")).isEqualTo("failed");
        assertThat(second.getString("error")).contains("code 1");
        assertThat(structured(client.callTool("wait_next_event", new JsonObject())).getBoolean("no_running_tasks")).isTrue();
        assertThat(Files.readString(paths.cursorFile(CALLER))).contains("\"seq\":" + second.getLong("seq"));
    }

    @Test
    void wait_next_event_times_out_and_sends_progress_with_the_request_token() throws Exception {
        runTask("[hold] long");
        int id = client.send("tools/call", new JsonObject().put("name", "wait_next_event")
                .put("arguments", new JsonObject().put("timeout_ms", 700))
                .put("_meta", new JsonObject().put("progressToken", 4242)));
        JsonObject reply = client.awaitResponse(id, Duration.ofSeconds(10));
        assertThat(reply.getJsonObject("result").getJsonObject("structuredContent").getBoolean("timeout")).isTrue();
        assertThat(client.notifications).filteredOn(n -> n.getString("method").equals("notifications/progress"))
                .hasSizeGreaterThanOrEqualTo(3)
                .allSatisfy(n -> assertThat(n.getJsonObject("params").getInteger("progressToken")).isEqualTo(4242));
    }

    @Test
    void a_zero_timeout_still_hands_out_an_event_that_is_already_there() throws Exception {
        String id = runTask("[ms=50] quick");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!"completed".equals(structured(client.callTool("get_task_info", new JsonObject().put("task_id", id))).getString("status"))) {
            assertThat(System.nanoTime()).as("task finished").isLessThan(deadline);
            Thread.sleep(50);
        }
        assertThat(structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 0))).getString("task_id")).isEqualTo(id);
    }

    @Test
    void two_waits_of_one_session_never_receive_the_same_event() throws Exception {
        String one = runTask("[ms=400] one");
        String two = runTask("[ms=700] two");
        int first = client.send("tools/call", new JsonObject().put("name", "wait_next_event").put("arguments", new JsonObject()));
        int second = client.send("tools/call", new JsonObject().put("name", "wait_next_event").put("arguments", new JsonObject()));
        String a = client.awaitResponse(first, Duration.ofSeconds(10)).getJsonObject("result").getJsonObject("structuredContent").getString("task_id");
        String b = client.awaitResponse(second, Duration.ofSeconds(10)).getJsonObject("result").getJsonObject("structuredContent").getString("task_id");
        assertThat(java.util.List.of(a, b)).containsExactlyInAnyOrder(one, two);
    }

    @Test
    void notifications_cancelled_ends_a_pending_wait() throws Exception {
        runTask("[hold] long");
        int id = client.send("tools/call", new JsonObject().put("name", "wait_next_event")
                .put("arguments", new JsonObject().put("timeout_ms", 60_000)));
        Thread.sleep(300);
        long t0 = System.nanoTime();
        client.notify("notifications/cancelled", new JsonObject().put("requestId", id).put("reason", "user"));
        JsonObject reply = client.awaitResponse(id, Duration.ofSeconds(30));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("ended by the cancellation, not the 60 s wait").isLessThan(Duration.ofSeconds(20));
        assertThat(reply.getJsonObject("result").getJsonObject("structuredContent").getBoolean("cancelled")).isTrue();
    }

    @Test
    void a_malformed_line_gets_a_parse_error_and_the_session_goes_on() throws Exception {
        client.sendLine("{this is not json");
        client.sendLine("[1,2]");
        JsonObject result = client.callTool("list_repos", new JsonObject());
        assertThat(result.getBoolean("isError")).isFalse();
        assertThat(client.rawLines).anySatisfy(l -> assertThat(l).contains("-32700").contains("\"id\":null"));
        assertThat(client.rawLines).anySatisfy(l -> assertThat(l).contains("-32600").contains("\"id\":null"));
    }

    @Test
    void end_of_input_is_reported_so_the_process_can_exit() throws Exception {
        client.closeInput();
        assertThat(inputClosed.await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void events_of_other_callers_are_not_delivered_but_all_tasks_sees_them() throws Exception {
        eventLog.append(EventTypes.TASK_STATE, "t-foreign", new JsonObject().put("state", "QUEUED").put("caller", "session-other"));
        eventLog.append(EventTypes.TASK_STATE, "t-foreign", new JsonObject().put("state", "COMPLETED").put("previous", "RUNNING"));
        vertx.eventBus().publish(Addresses.EVENTS, new JsonObject());
        assertThat(structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 2000))).getBoolean("no_running_tasks")).isTrue();
        JsonObject all = structured(client.callTool("wait_next_event", new JsonObject().put("all_tasks", true).put("timeout_ms", 2000)));
        assertThat(all.getString("task_id")).isEqualTo("t-foreign");
    }

    @Test
    void a_node_that_ignores_the_caller_filter_cannot_make_foreign_tasks_ours() throws Exception {
        node.unregister().await();
        vertx.eventBus().<JsonObject>consumer(Addresses.TASK_LIST, m -> m.reply(new JsonObject().put("tasks", new JsonArray()
                .add(new JsonObject().put("task_id", "t-theirs").put("state", "RUNNING").put("caller", "session-other"))
                .add(new JsonObject().put("task_id", "t-anon").put("state", "RUNNING"))))).completion().await();
        eventLog.append(EventTypes.TASK_STATE, "t-theirs", new JsonObject().put("state", "COMPLETED"));
        JsonObject result = structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 3000)));
        assertThat(result.getBoolean("no_running_tasks")).as(result.encode()).isTrue();
    }

    @Test
    void a_restarted_server_of_the_same_session_delivers_what_the_old_one_did_not() throws Exception {
        String delivered = runTask("[ms=100] one");
        String pending = runTask("[ms=800] two");
        assertThat(structured(client.callTool("wait_next_event", new JsonObject())).getString("task_id")).isEqualTo(delivered);
        vertx.undeploy(deploymentId).await();
        client.close();
        Thread.sleep(1200); // "two" finishes while no server runs
        client = startServer(CALLER);
        client.initialize();
        JsonObject next = structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 5000)));
        assertThat(next.getString("task_id")).isEqualTo(pending);
        assertThat(structured(client.callTool("wait_next_event", new JsonObject().put("timeout_ms", 5000))).getBoolean("no_running_tasks")).isTrue();
    }

    private String runTask(String description) throws Exception {
        JsonObject result = client.callTool("run_task", new JsonObject().put("description", description).put("repo", "demo"));
        assertThat(result.getBoolean("isError")).as(result.encode()).isFalse();
        return structured(result).getString("task_id");
    }

    static JsonObject structured(JsonObject result) {
        assertThat(result.getBoolean("isError")).as(result.encode()).isFalse();
        return result.getJsonObject("structuredContent");
    }

    static String text(JsonObject result) {
        return result.getJsonArray("content").getJsonObject(0).getString("text");
    }
}
