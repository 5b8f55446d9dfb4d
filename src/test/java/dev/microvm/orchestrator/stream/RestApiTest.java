package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

class RestApiTest {

    @TempDir
    static Path stateDir;
    static StreamServer server;
    static final CopyOnWriteArrayList<JsonObject> requests = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() {
        server = StreamServer.start(stateDir);
        var bus = server.vertx.eventBus();
        bus.<JsonObject>consumer(Addresses.TASK_LIST, m -> {
            requests.add(m.body());
            m.reply(new JsonObject().put("tasks", new JsonArray().add(new JsonObject().put("task_id", "t1").put("state", "running"))));
        });
        bus.<JsonObject>consumer(Addresses.TASK_GET, m -> {
            if (m.body().getString("task_id").equals("t1")) m.reply(new JsonObject().put("task_id", "t1").put("state", "running"));
            else if (m.body().getString("task_id").equals("tsick")) TaskFailure.reply(m, FailureReason.DRIVER_UNHEALTHY, "this node's driver cannot boot a guest");
            else m.fail(404, "no task " + m.body().getString("task_id"));
        });
        bus.<JsonObject>consumer(Addresses.TASK_LOGS, m -> {
            requests.add(m.body());
            m.reply(new JsonObject().put("content", "line 1\nline 2\n").put("offset", 0).put("next_offset", 14).put("size", 14));
        });
        bus.<JsonObject>consumer(Addresses.SLOT_LIST, m -> m.reply(new JsonObject().put("max_slots", 2)
                .put("active", new JsonArray()).put("available", new JsonArray().add(1).add(2)).put("queued", new JsonArray())));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private String get(String path) {
        return server.raw("GET " + path + " HTTP/1.1\nHost: 127.0.0.1:" + server.port() + "\nAuthorization: Bearer " + server.token()
                + "\nConnection: close\n");
    }

    private static JsonObject body(String response) {
        return new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4));
    }

    @Test
    void theTaskListIsTheOwnersReplyAndCarriesTheQueryFilters() {
        String r = get("/api/tasks?status=running&repo=web");
        assertThat(StreamServer.status(r)).isEqualTo(200);
        assertThat(body(r).getJsonArray("tasks").getJsonObject(0).getString("task_id")).isEqualTo("t1");
        assertThat(requests).contains(new JsonObject().put("status", "running").put("repo", "web"));
    }

    @Test
    void oneTaskAndItsLogAreFetchedByTaskId() {
        assertThat(body(get("/api/tasks/t1")).getString("state")).isEqualTo("running");
        String log = get("/api/tasks/t1/log?tail=100&stream=console");
        assertThat(body(log).getString("content")).isEqualTo("line 1\nline 2\n");
        assertThat(requests).contains(new JsonObject().put("task_id", "t1").put("tail", 100L).put("stream", "console"));
    }

    @Test
    void anUnknownTaskIs404AsTheOwnerSaid() {
        String r = get("/api/tasks/nope");
        assertThat(StreamServer.status(r)).isEqualTo(404);
        assertThat(body(r).getString("error")).contains("no task nope");
    }

    @Test
    void aFailureWithAReasonKeepsItsReasonAndGetsAMatchingStatus() {
        String r = get("/api/tasks/tsick");
        assertThat(StreamServer.status(r)).isEqualTo(503);
        assertThat(body(r).getString("reason")).isEqualTo("driver_unhealthy");
        assertThat(body(r).getString("error")).contains("cannot boot a guest");
    }

    @Test
    void badInputIsRefusedBeforeAnyoneIsAsked() {
        assertThat(StreamServer.status(get("/api/tasks/..%2F..%2Fetc"))).isEqualTo(400);
        assertThat(StreamServer.status(get("/api/tasks/T1"))).isEqualTo(400);
        assertThat(StreamServer.status(get("/api/tasks/t1/log?offset=-1"))).isEqualTo(400);
        assertThat(body(get("/api/tasks/t1/log?limit=ten")).getString("error")).contains("limit");
    }

    @Test
    void anEndpointWhoseOwnerIsNotDeployedAnswers503() {
        String r = get("/api/nodes");
        assertThat(StreamServer.status(r)).isEqualTo(503);
        assertThat(body(r).getString("error")).contains("not available");
    }

    @Test
    void slotsAreServed() {
        assertThat(body(get("/api/slots")).getInteger("max_slots")).isEqualTo(2);
    }

    @Test
    void unknownApiPathsAre404() {
        assertThat(StreamServer.status(get("/api/whatever"))).isEqualTo(404);
    }
}
