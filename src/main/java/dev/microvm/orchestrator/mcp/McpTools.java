package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.task.TaskState;
import dev.microvm.orchestrator.node.Addresses;
import io.modelcontextprotocol.server.McpAsyncServerExchange;
import io.modelcontextprotocol.server.McpServerFeatures.AsyncToolSpecification;
import io.modelcontextprotocol.spec.McpSchema;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The tool handlers. Each one translates its arguments into one event-bus request and the reply
 * into a structured result; the decisions belong to the node. wait_next_event is the exception
 * that proves the rule: it reads the event log, which is this server's own delivery concern.
 */
final class McpTools {


    private final ToolCatalog catalog;
    private final BusClient bus;
    private final EventWaiter waiter;
    private final TaskStateIndex index;
    private final McpSettings settings;
    private final Future<Void> ready;

    /**
     * @param ready completes once the caller's delivery cursor exists; task submission waits for
     *              it so a task can never finish "before" its caller's cursor
     */
    McpTools(ToolCatalog catalog, BusClient bus, EventWaiter waiter, TaskStateIndex index, McpSettings settings, Future<Void> ready) {
        this.catalog = catalog;
        this.bus = bus;
        this.waiter = waiter;
        this.index = index;
        this.settings = settings;
        this.ready = ready;
    }

    List<AsyncToolSpecification> specifications() {
        List<AsyncToolSpecification> specs = new ArrayList<>();
        specs.add(tool("run_task", (ex, req, args) -> submit(Addresses.TASK_SUBMIT, args)));
        specs.add(tool("continue_task", (ex, req, args) -> submit(Addresses.TASK_CONTINUE, args)));
        specs.add(tool("get_task_info", (ex, req, args) -> forward(Addresses.TASK_GET, pick(args, "task_id"))
                .map(TaskRecords::normalize)));
        specs.add(tool("get_task_logs", (ex, req, args) -> forward(Addresses.TASK_LOGS, args)
                .map(r -> withTaskId(r, args).put("content", r.getString("content", "")))));
        specs.add(tool("get_task_diff", (ex, req, args) -> forward(Addresses.TASK_DIFF, args)
                .map(r -> withTaskId(r, args).put("diff", r.getString("diff", r.getString("patch", ""))))));
        specs.add(tool("cleanup_task", (ex, req, args) -> forward(Addresses.TASK_CLEANUP,
                pick(args, "task_id").put("delete_ref", args.getBoolean("delete_ref", false)))
                .map(r -> withTaskId(r, args).put("success", r.getValue("success") instanceof Boolean b ? b : true))));
        specs.add(tool("cancel_task", (ex, req, args) -> forward(Addresses.TASK_CANCEL, pick(args, "task_id"))
                .map(TaskRecords::normalize)));
        specs.add(tool("merge_task", (ex, req, args) -> forward(Addresses.TASK_MERGE,
                pick(args, "task_id").put("strategy", args.getString("strategy", "auto")))
                .map(r -> withTaskId(r, args))));
        specs.add(tool("list_repos", (ex, req, args) -> forward(Addresses.REPO_LIST, new JsonObject())
                .map(r -> r.put("repos", r.getJsonArray("repos", new JsonArray())))));
        specs.add(tool("list_tasks", (ex, req, args) -> listTasks(args)));
        specs.add(tool("list_slots", (ex, req, args) -> forward(Addresses.SLOT_LIST, new JsonObject())
                .compose(slots -> bus.request(Addresses.NODE_DRIVER, new JsonObject()).map(driver -> slots.put("fingerprint", driver))
                        .otherwise(e -> slots))));
        specs.add(tool("wait_next_event", this::waitNextEvent));
        return specs;
    }

    @FunctionalInterface
    private interface Handler {
        Future<JsonObject> handle(McpAsyncServerExchange exchange, McpSchema.CallToolRequest request, JsonObject args);
    }

    private AsyncToolSpecification tool(String name, Handler handler) {
        return new AsyncToolSpecification(catalog.tool(name), (exchange, request) ->
            Mono.defer(() -> {
                        JsonObject args = PlainJson.fromMap(request.arguments());
                        // arguments that break the tool's input schema never become a bus request
                        List<String> problems = catalog.violations(name, args);
                        if (!problems.isEmpty()) return Mono.just(ToolResults.error(String.join("\n", problems)));
                        return Mono.fromCompletionStage(handler.handle(exchange, request, args).toCompletionStage())
                                .map(ToolResults::success);
                    })
                    // forward() has already worded event-bus failures; anything else is described as is
                    .onErrorResume(failure -> Mono.just(ToolResults.error(ToolResults.describe(failure, name)))));
    }

    private Future<JsonObject> forward(String address, JsonObject request) {
        return bus.request(address, request).recover(failure -> Future.failedFuture(new ToolFailure(ToolResults.describe(failure, address))));
    }

    /** Time the node's acceptance reply has to reach this process before the call times out. */
    private static final long ACCEPT_MARGIN_MS = 2_000;

    private Future<JsonObject> submit(String address, JsonObject args) {
        JsonObject request = args.copy().put("caller", settings.caller());
        return ready.compose(v -> {
            // the node refuses to create the task once this call would have timed out: an error answer means no task
            request.put("accept_before", System.currentTimeMillis() + settings.busTimeout().toMillis() - ACCEPT_MARGIN_MS);
            return forward(address, request);
        }).map(record -> {
            JsonObject task = TaskRecords.normalize(record);
            index.claim(TaskRecords.taskId(task), settings.caller());
            return task;
        });
    }

    private Future<JsonObject> listTasks(JsonObject args) {
        String status = args.getString("status");
        JsonObject request = new JsonObject();
        if (args.getString("repo") != null) request.put("repo", args.getString("repo"));
        if (status != null && !status.equals("active") && !status.equals("finished")) request.put("status", status);
        return forward(Addresses.TASK_LIST, request).map(reply -> {
            JsonObject out = TaskRecords.normalizeList(reply, "tasks");
            if (status == null) return out;
            JsonArray kept = new JsonArray();
            for (Object o : out.getJsonArray("tasks")) {
                if (o instanceof JsonObject t && statusMatches(status, t.getString("status"))) kept.add(t);
            }
            return out.put("tasks", kept);
        });
    }

    private static boolean statusMatches(String wanted, String actual) {
        if (actual == null) return false;
        return switch (wanted) {
            case "active" -> !TaskState.isTerminalWire(actual);
            case "finished" -> TaskState.isTerminalWire(actual);
            default -> wanted.equals(actual);
        };
    }

    private Future<JsonObject> waitNextEvent(McpAsyncServerExchange exchange, McpSchema.CallToolRequest request, JsonObject args) {
        Duration timeout = args.getValue("timeout_ms") instanceof Number n ? Duration.ofMillis(n.longValue()) : settings.defaultWait();
        Object requestId = request.meta() == null ? null : request.meta().get(StdinGuard.REQUEST_ID_META);
        String key = requestId instanceof String s ? s : "unnamed-" + UUID.randomUUID();
        Object progressToken = request.progressToken();
        AtomicLong progress = new AtomicLong();
        WaitRequest wait = new WaitRequest(settings.caller(), args.getBoolean("all_tasks", false), timeout, key, message -> {
            if (progressToken == null) return;
            exchange.progressNotification(new McpSchema.ProgressNotification(progressToken, (double) progress.incrementAndGet(), null, message, null))
                    .subscribe(v -> {}, e -> {});
        });
        return ready.compose(v -> waiter.await(wait));
    }

    private static JsonObject pick(JsonObject args, String field) {
        return new JsonObject().put(field, args.getValue(field));
    }

    private static JsonObject withTaskId(JsonObject reply, JsonObject args) {
        return reply.copy().put("task_id", args.getString("task_id"));
    }

    /** A failure whose message is already the text the caller should read. */
    static final class ToolFailure extends RuntimeException {
        ToolFailure(String message) {
            super(message, null, false, false);
        }
    }
}
