package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A scripted stand-in for the node's task manager, for tests of the MCP layer only: it answers
 * on the real addresses with the documented reply shapes and writes real task.state events to a
 * real event log. A task's description steers it: {@code [ms=N]} finishes after N ms (default
 * 200), {@code [fail]} fails it, {@code [hold]} keeps it running until cancelled.
 * Every request body is recorded for assertions.
 */
final class ScriptedNode {

    static final String KNOWN_REPO = "demo";
    private static final Pattern DURATION = Pattern.compile("\\[ms=(\\d+)]");

    private final Vertx vertx;
    private final EventLog log;
    private final Map<String, JsonObject> tasks = new ConcurrentHashMap<>();
    final List<JsonObject> requests = new CopyOnWriteArrayList<>();
    private final List<MessageConsumer<?>> consumers = new ArrayList<>();

    ScriptedNode(Vertx vertx, EventLog log) {
        this.vertx = vertx;
        this.log = log;
    }

    Future<Void> register() {
        on(Addresses.TASK_SUBMIT, this::submit);
        on(Addresses.TASK_CONTINUE, this::continueTask);
        on(Addresses.TASK_GET, m -> m.reply(task(m).copy()));
        on(Addresses.TASK_LIST, this::list);
        on(Addresses.TASK_LOGS, m -> {
            JsonObject t = task(m);
            String all = "boot ok\nagent: working on " + t.getString("description") + "\ndone\n";
            int offset = m.body().getInteger("offset", 0);
            String content = all.substring(Math.min(offset, all.length()));
            m.reply(new JsonObject().put("content", content).put("offset", offset).put("next_offset", all.length())
                    .put("size", all.length()).put("log_path", "/state/tasks/" + t.getString("task_id") + "/console.log"));
        });
        on(Addresses.TASK_DIFF, m -> m.reply(new JsonObject().put("diff", "diff --git a/x b/x\n+hello\n")
                .put("files", new JsonArray().add("x")).put("next_offset", null)));
        on(Addresses.TASK_CANCEL, m -> {
            JsonObject t = task(m);
            if (!TaskStateIndex.isTerminal(t.getString("state"))) transition(t, "CANCELLED", new JsonObject().put("reason", "cancelled by request"));
            m.reply(t.copy());
        });
        on(Addresses.TASK_MERGE, m -> m.reply(new JsonObject().put("status", "merged").put("strategy", m.body().getString("strategy"))
                .put("commit", "0123abcd")));
        on(Addresses.TASK_CLEANUP, m -> {
            task(m);
            m.reply(new JsonObject().put("success", true));
        });
        on(Addresses.REPO_LIST, m -> m.reply(new JsonObject().put("repos", new JsonArray()
                .add(new JsonObject().put("alias", KNOWN_REPO).put("path", "/src/demo").put("added", "2026-01-01T00:00:00Z")))));
        on(Addresses.SLOT_LIST, m -> m.reply(new JsonObject().put("max_slots", 2)
                .put("active", new JsonArray()).put("available", new JsonArray().add(0).add(1)).put("queued", new JsonArray())));
        return Future.all(consumers.stream().map(MessageConsumer::completion).toList()).mapEmpty();
    }

    Future<Void> unregister() {
        return Future.all(consumers.stream().map(MessageConsumer::unregister).toList()).mapEmpty();
    }

    List<JsonObject> requestsTo(String address) {
        return requests.stream().filter(r -> address.equals(r.getString("address"))).map(r -> r.getJsonObject("body")).toList();
    }

    private void on(String address, io.vertx.core.Handler<Message<JsonObject>> handler) {
        consumers.add(vertx.eventBus().<JsonObject>consumer(address, m -> {
            requests.add(new JsonObject().put("address", address).put("body", m.body() == null ? null : m.body().copy()));
            try {
                handler.handle(m);
            } catch (NoSuchTask e) {
                m.fail(404, "unknown task '" + e.getMessage() + "'");
            }
        }));
    }

    private void submit(Message<JsonObject> m) {
        String repo = m.body().getString("repo");
        if (!KNOWN_REPO.equals(repo)) {
            m.fail(404, "unknown repository '" + repo + "'");
            return;
        }
        m.reply(start(m.body().getString("description"), repo, m.body().getString("caller")).copy());
    }

    private void continueTask(Message<JsonObject> m) {
        JsonObject previous = task(m);
        m.reply(start(m.body().getString("prompt"), previous.getString("repo"), m.body().getString("caller"))
                .put("continues", previous.getString("task_id")).copy());
    }

    private JsonObject start(String description, String repo, String caller) {
        String id = "t-" + UUID.randomUUID().toString().substring(0, 8);
        JsonObject t = new JsonObject().put("task_id", id).put("description", description).put("repo", repo)
                .put("state", "QUEUED").put("caller", caller).put("created_at", "2026-01-01T00:00:00Z");
        tasks.put(id, t);
        transition(t, "QUEUED", new JsonObject().put("caller", caller));
        transition(t, "RUNNING", new JsonObject());
        if (!description.contains("[hold]")) {
            Matcher d = DURATION.matcher(description);
            long ms = d.find() ? Long.parseLong(d.group(1)) : 200;
            vertx.setTimer(ms, x -> {
                if (TaskStateIndex.isTerminal(t.getString("state"))) return;
                if (description.contains("[fail]")) {
                    transition(t, "FAILED", new JsonObject().put("exit_code", 1).put("reason", "agent exited with code 1"));
                } else {
                    transition(t, "COMPLETED", new JsonObject().put("exit_code", 0).put("result", "did: " + description)
                            .put("merge_result", new JsonObject().put("status", "merged").put("commit", "c0ffee")));
                }
            });
        }
        return t;
    }

    private synchronized void transition(JsonObject t, String state, JsonObject extra) {
        String previous = t.getString("state");
        t.put("state", state);
        extra.fieldNames().forEach(f -> t.put(f, extra.getValue(f)));
        JsonObject data = extra.copy().put("state", state).put("previous", previous);
        TaskEvent event = log.append(EventTypes.TASK_STATE, t.getString("task_id"), data);
        vertx.eventBus().publish(Addresses.EVENTS, event.toJson());
    }

    private void list(Message<JsonObject> m) {
        String caller = m.body().getString("caller");
        String status = m.body().getString("status");
        JsonArray out = new JsonArray();
        tasks.values().stream()
                .filter(t -> caller == null || caller.equals(t.getString("caller")))
                .filter(t -> status == null || status.equalsIgnoreCase(t.getString("state")))
                .forEach(t -> out.add(t.copy()));
        m.reply(new JsonObject().put("tasks", out));
    }

    private JsonObject task(Message<JsonObject> m) {
        String id = m.body().getString("task_id");
        JsonObject t = id == null ? null : tasks.get(id.toLowerCase(Locale.ROOT));
        if (t == null) throw new NoSuchTask(id);
        return t;
    }

    private static final class NoSuchTask extends RuntimeException {
        NoSuchTask(String id) {
            super(id, null, false, false);
        }
    }
}
