package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The task manager's read-only requests: get, list, logs, diff. Nothing here changes a task. */
final class TaskQueries {
    private final Vertx vertx;
    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;

    TaskQueries(Vertx vertx, StatePaths paths, OrchestratorConfig config, TaskStore store) {
        this.vertx = vertx;
        this.paths = paths;
        this.config = config;
        this.store = store;
    }

    Future<TaskRecord> load(String id) {
        return vertx.executeBlocking(() -> store.load(id).orElseThrow(() -> new TaskManagerVerticle.UnknownTaskException(id)), false);
    }

    Future<JsonObject> get(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).map(r -> {
            JsonObject j = r.toJson().put("network", network(r));
            if ("allowlist".equals(j.getString("network"))) j.put("allowed_domains", new JsonArray(r.options().allowedDomains()));
            return j;
        });
    }

    private String network(TaskRecord r) {
        return r.options().network() != null ? r.options().network() : config.defaultNetwork();
    }

    Future<JsonObject> list(JsonObject b) {
        String status = b.getString("status");
        if (status != null) TaskState.fromWire(status);
        String repo = b.getString("repo");
        String caller = b.getString("caller");
        boolean activeOnly = b.getBoolean("active_only", false);
        return vertx.executeBlocking(() -> {
            JsonArray tasks = new JsonArray();
            JsonArray damaged = new JsonArray();
            for (TaskStore.Entry e : store.loadAll()) {
                if (e.record() == null) {
                    damaged.add(new JsonObject().put("task_id", e.taskId()).put("problem", e.problem()));
                    continue;
                }
                TaskRecord r = e.record();
                if (status != null && !r.state().wireName().equalsIgnoreCase(status)) continue;
                if (repo != null && !repo.equals(r.repo())) continue;
                if (caller != null && !caller.equals(r.caller())) continue;
                if (activeOnly && r.state().isTerminal()) continue;
                tasks.add(new JsonObject().put("task_id", r.id()).put("status", r.state().wireName())
                        .put("description", abbreviate(r.description(), 80)).put("repo", r.repo())
                        .put("created_at", r.createdAt()).put("completed_at", r.completedAt())
                        .put("slot", r.slot()).put("reason", r.reason()).put("caller", r.caller()).put("node", r.node())
                        .put("network", network(r)));
            }
            JsonObject out = new JsonObject().put("tasks", tasks);
            if (!damaged.isEmpty()) out.put("damaged", damaged);
            return out;
        }, false);
    }

    Future<JsonObject> logs(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).compose(r -> vertx.executeBlocking(() -> TaskLogs.read(paths, r, b), false));
    }

    Future<JsonObject> diff(JsonObject b) {
        String id = TaskIds.require(b.getString("task_id"));
        return load(id).compose(r -> vertx.eventBus().<JsonObject>request(Addresses.WORKER_DIFF, b.copy().put("task_id", id)))
                .map(Message::body);
    }

    static String abbreviate(String s, int max) {
        if (s == null) return null;
        return s.length() <= max ? s : s.substring(0, max - 3) + "...";
    }
}
