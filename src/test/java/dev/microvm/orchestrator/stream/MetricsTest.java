package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventTypes;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class MetricsTest {

    @TempDir
    Path stateDir;

    private static String metrics(StreamServer server) {
        String r = server.raw("GET /metrics HTTP/1.1\nHost: localhost:" + server.port() + "\nAuthorization: Bearer " + server.token()
                + "\nConnection: close\n");
        assertThat(StreamServer.status(r)).isEqualTo(200);
        return r;
    }

    private static String awaitMetrics(StreamServer server, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String last = "";
        while (System.nanoTime() < deadline) {
            last = metrics(server);
            if (last.contains(expected)) return last;
            Thread.sleep(50);
        }
        throw new AssertionError("metrics never showed '" + expected + "':\n" + last);
    }

    @Test
    void taskCountsDurationsQueueAndSlotsFollowTheEventsIncludingThoseBeforeStart() throws Exception {
        // events from before this process started are replayed from the log
        EventLog before = new EventLog(new dev.microvm.orchestrator.config.StatePaths(stateDir).eventLog(), Clock.systemUTC());
        before.append(EventTypes.TASK_STATE, "t1", new JsonObject().put("state", "QUEUED"));
        before.append(EventTypes.TASK_STATE, "t1", new JsonObject().put("state", "RUNNING").put("previous", "QUEUED"));
        try (StreamServer server = StreamServer.start(stateDir)) {
            awaitMetrics(server, "mvo_tasks{state=\"running\"} 1.0");
            server.emit(EventTypes.TASK_STATE, "t2", new JsonObject().put("state", "QUEUED"));
            server.emit(EventTypes.TASK_STATE, "t3", new JsonObject().put("state", "QUEUED"));
            server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 1).put("task_id", "t1").put("state", "busy"));
            server.emit(EventTypes.TASK_STATE, "t1", new JsonObject().put("state", "COMPLETED").put("previous", "RUNNING"));
            server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 1).put("state", "free"));
            server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 2).put("task_id", "t2").put("state", "busy"));
            String m = awaitMetrics(server, "mvo_tasks_finished_total{state=\"completed\"} 1.0");
            assertThat(m).contains("mvo_tasks{state=\"running\"} 0.0")
                    .contains("mvo_tasks{state=\"queued\"} 2.0")
                    .contains("mvo_tasks{state=\"completed\"} 1.0")
                    .contains("mvo_task_queue_length 2.0")
                    .contains("mvo_task_duration_seconds_count{state=\"completed\"} 1")
                    .contains("mvo_task_duration_seconds_bucket{state=\"completed\"")
                    .contains("mvo_events_total{type=\"task.state\"} 5.0");
            assertThat(awaitMetrics(server, "mvo_slots_in_use 1.0")).contains("mvo_event_stream_clients 0.0");
        }
    }

    @Test
    void refusedGuestConnectionsAreCountedIncludingThoseBeforeStart() throws Exception {
        EventLog before = new EventLog(new dev.microvm.orchestrator.config.StatePaths(stateDir).eventLog(), Clock.systemUTC());
        before.append(EventTypes.NETWORK_DENIED, "t1", new JsonObject().put("host", "evil.example").put("port", 443));
        try (StreamServer server = StreamServer.start(stateDir)) {
            awaitMetrics(server, "mvo_network_denied_total 1.0");
            server.emit(EventTypes.NETWORK_DENIED, "t2", new JsonObject().put("host", "other.example").put("port", 80));
            server.emit(EventTypes.NETWORK_DENIED, "t2", new JsonObject().put("host", "other.example").put("port", 443));
            assertThat(awaitMetrics(server, "mvo_network_denied_total 3.0")).contains("mvo_events_total{type=\"network.denied\"} 3.0");
        }
    }

    @Test
    void vertxOwnHttpMetricsAreExportedToo() {
        try (StreamServer server = StreamServer.start(stateDir)) {
            metrics(server);
            assertThat(metrics(server)).contains("vertx_http_server_requests_total").contains("jvm_memory_used_bytes");
        }
    }
}
