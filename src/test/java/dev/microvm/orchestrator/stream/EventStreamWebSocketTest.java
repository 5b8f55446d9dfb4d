package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

class EventStreamWebSocketTest {

    @TempDir
    Path stateDir;
    StreamServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    private static List<Long> range(long fromInclusive, long toInclusive) {
        return LongStream.rangeClosed(fromInclusive, toInclusive).boxed().toList();
    }

    @Test
    void liveEventsArriveAsTheyWereLoggedWithTheirSequenceNumbers() {
        server = StreamServer.start(stateDir);
        server.emit(EventTypes.TASK_STATE, "old", new JsonObject().put("state", "completed"));
        try (StreamClient c = StreamClient.connectLive(server.vertx, server, "")) {
            assertThat(c.frames.get(c.frames.size() - 1).getLong("seq")).isEqualTo(1);
            TaskEvent a = server.emit(EventTypes.TASK_STATE, "t1", new JsonObject().put("state", "running"));
            TaskEvent b = server.emit(EventTypes.TASK_LOG, "t1", new JsonObject().put("stream", "stdout").put("lines", List.of("hello")));
            c.awaitEventSeq(b.seq());
            assertThat(c.events).containsExactly(a.toJson(), b.toJson());
        }
    }

    @Test
    void resumingSinceNDeliversEveryLaterEventOnceWhileEventsKeepComing() throws Exception {
        server = StreamServer.start(stateDir);
        for (int i = 0; i < 300; i++) server.emit(EventTypes.TASK_LOG, "t1", new JsonObject().put("n", i));
        AtomicLong last = new AtomicLong();
        Thread producer = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < 700; i++) last.set(server.emit(EventTypes.TASK_LOG, "t1", new JsonObject().put("n", 300 + i)).seq());
        });
        Thread.sleep(20); // connect while the producer is appending and publishing
        try (StreamClient c = StreamClient.connect(server.vertx, server, "since=120")) {
            producer.join();
            c.awaitEventSeq(last.get());
            Thread.sleep(100); // duplicates, if any, would arrive now
            assertThat(c.seqs()).isEqualTo(range(121, last.get()));
            assertThat(c.frames).anyMatch(f -> "live".equals(f.getString("type")));
        }
    }

    @Test
    void clientsReceiveOnlyTheTasksAndTypesTheyAskedFor() {
        server = StreamServer.start(stateDir);
        server.emit(EventTypes.TASK_LOG, "a", new JsonObject());
        server.emit(EventTypes.TASK_STATE, "a", new JsonObject().put("state", "running"));
        server.emit(EventTypes.TASK_LOG, "b", new JsonObject());
        server.emit(EventTypes.SLOT, null, new JsonObject().put("slot", 1));
        try (StreamClient logsOfA = StreamClient.connectLive(server.vertx, server, "since=0&task=a&type=task.log");
             StreamClient taskEvents = StreamClient.connectLive(server.vertx, server, "since=0&type=task.*")) {
            TaskEvent live = server.emit(EventTypes.TASK_LOG, "a", new JsonObject());
            server.emit(EventTypes.TASK_PROGRESS, "b", new JsonObject());
            TaskEvent end = server.emit(EventTypes.NODE, null, new JsonObject());
            logsOfA.awaitEventSeq(live.seq());
            taskEvents.awaitEventSeq(6);
            assertThat(logsOfA.seqs()).containsExactly(1L, live.seq());
            assertThat(taskEvents.seqs()).containsExactly(1L, 2L, 3L, 5L, 6L);
            assertThat(taskEvents.seqs()).doesNotContain(end.seq());
        }
    }

    @Test
    void aSlowClientIsToldWhereToResumeWhileAFastOneGetsEverything() throws Exception {
        server = StreamServer.start(stateDir, EventStreamOptions.loopback(0).withQueueBound(64).withFlushInterval(5));
        String payload = "x".repeat(4096);
        try (StreamClient fast = StreamClient.connectLive(server.vertx, server, "");
             StreamClient slow = StreamClient.connectLive(server.vertx, server, "")) {
            slow.ws.pause(); // stops reading: the socket backs up
            long lastSeq = 0;
            // emit until the server has dropped the slow client (its socket and queue are full)
            for (int i = 0; i < 20_000 && clients() > 1; i++) {
                lastSeq = server.emit(EventTypes.TASK_LOG, "t1", new JsonObject().put("line", payload)).seq();
                if (i % 100 == 99) Thread.sleep(5); // a realistic rate, so the fast client keeps up
            }
            assertThat(clients()).isEqualTo(1);
            for (int i = 0; i < 50; i++) lastSeq = server.emit(EventTypes.TASK_LOG, "t1", new JsonObject().put("line", "after")).seq();
            fast.awaitEventSeq(lastSeq);
            assertThat(fast.seqs()).isEqualTo(range(1, lastSeq));

            slow.ws.resume();
            JsonObject overrun = slow.awaitFrame(f -> "overrun".equals(f.getString("type")));
            long resumeFrom = overrun.getLong("resume_from");
            assertThat(resumeFrom).isLessThan(lastSeq);
            assertThat(slow.seqs()).isEqualTo(range(1, resumeFrom));

            try (StreamClient resumed = StreamClient.connect(server.vertx, server, "since=" + resumeFrom)) {
                resumed.awaitEventSeq(lastSeq);
                assertThat(resumed.seqs()).isEqualTo(range(resumeFrom + 1, lastSeq));
            }
        }
    }

    private int clients() {
        String r = server.raw("GET /health HTTP/1.1\nHost: localhost:" + server.port() + "\nAuthorization: Bearer " + server.token()
                + "\nConnection: close\n");
        return new JsonObject(r.substring(r.indexOf("\r\n\r\n") + 4)).getInteger("clients");
    }

    @Test
    void anInvalidResumePointIsRefusedBeforeTheUpgrade() {
        server = StreamServer.start(stateDir);
        String r = server.raw("GET /events?since=-5 HTTP/1.1\nHost: localhost:" + server.port() + "\nAuthorization: Bearer "
                + server.token() + "\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n");
        assertThat(StreamServer.status(r)).isEqualTo(400);
        assertThat(r).contains("since");
        String plain = server.raw("GET /events HTTP/1.1\nHost: localhost:" + server.port() + "\nAuthorization: Bearer "
                + server.token() + "\nConnection: close\n");
        assertThat(StreamServer.status(plain)).isEqualTo(400);
    }
}
