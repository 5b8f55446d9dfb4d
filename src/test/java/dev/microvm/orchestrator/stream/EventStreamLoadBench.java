package dev.microvm.orchestrator.stream;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.events.TaskEvent;
import dev.microvm.orchestrator.node.Addresses;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Load test of the event stream on loopback: N WebSocket subscribers, M events per second for T
 * seconds, all in this process (server and clients share the machine's cores). Prints delivery
 * latency percentiles (publish on the event bus to decoded in the client; the first seconds are
 * warm-up and left out of the percentiles) and every lost or duplicated delivery.
 *
 * <p>Events are published on the event bus the way the node publishes what it appended to the
 * log; the log itself is not written here, so the bench measures the stream, not the disk.
 *
 * <p>Usage: {@code EventStreamLoadBench [subscribers] [events-per-second] [seconds] [warmup-seconds]}.
 * Exit status 0 when every subscriber got every event exactly once and p99 is within 50 ms.
 */
public final class EventStreamLoadBench {

    private static final long P99_TARGET_MS = 50;
    private static final JsonFactory JSON = new JsonFactory();

    public static void main(String[] args) throws Exception {
        int subscribers = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int rate = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        if (subscribers < 1 || subscribers > 2000 || rate < 1 || rate > 100_000 || seconds < 1 || seconds > 300 || warmup < 0 || warmup >= seconds) {
            throw new IllegalArgumentException("expected 1..2000 subscribers, 1..100000 events/s, 1..300 s, warm-up shorter than the run");
        }
        System.exit(run(subscribers, rate, seconds, warmup) ? 0 : 1);
    }

    private static boolean run(int subscribers, int rate, int seconds, int warmup) throws Exception {
        Path stateDir = Files.createTempDirectory("event-stream-bench");
        Vertx serverVertx = Vertx.builder().with(new VertxOptions().setMetricsOptions(EventStreamVerticle.metricsOptions())).build();
        Vertx clientVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
        try {
            EventStreamVerticle verticle = new EventStreamVerticle(EventStreamOptions.loopback(0), new StatePaths(stateDir));
            await(serverVertx.deployVerticle(verticle));
            String token = Files.readString(new StatePaths(stateDir).httpTokenFile()).strip();

            long totalEvents = (long) rate * seconds;
            long warmupEndNanos = Long.MAX_VALUE;
            Recorder recorder = new Recorder(subscribers, totalEvents);
            List<Subscriber> subs = connect(clientVertx, verticle.port(), token, subscribers, recorder);
            System.out.printf("%d subscribers connected to 127.0.0.1:%d; publishing %d events/s for %d s (warm-up %d s)%n",
                    subscribers, verticle.port(), rate, seconds, warmup);

            long start = System.nanoTime();
            recorder.warmupEnd = start + TimeUnit.SECONDS.toNanos(warmup);
            AtomicLong published = new AtomicLong();
            CountDownLatch publishingDone = new CountDownLatch(1);
            publish(serverVertx, rate, totalEvents, start, published, publishingDone);
            if (!publishingDone.await(seconds + 30L, TimeUnit.SECONDS)) throw new IllegalStateException("publisher stalled");
            long publishEnd = System.nanoTime();

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (recorder.delivered.get() < totalEvents * subscribers && System.nanoTime() < deadline && recorder.allOpen()) {
                Thread.sleep(20);
            }
            Thread.sleep(200); // late duplicates would show up now
            return report(recorder, subs, subscribers, rate, published.get(), (publishEnd - start) / 1e9);
        } finally {
            await(clientVertx.close());
            await(serverVertx.close());
            try (var files = Files.walk(stateDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Publishes at an even rate: every millisecond, as many events as are due by now. */
    private static void publish(Vertx vertx, int rate, long total, long start, AtomicLong published, CountDownLatch done) {
        EventBus bus = vertx.eventBus();
        String ts = Instant.now().toString();
        String line = "x".repeat(80);
        vertx.setPeriodic(1, id -> {
            long due = Math.min(total, (System.nanoTime() - start) * rate / 1_000_000_000L);
            while (published.get() < due) {
                long seq = published.incrementAndGet();
                JsonObject data = new JsonObject().put("stream", "console").put("lines", new JsonArray().add(line)).put("t", System.nanoTime());
                bus.publish(Addresses.EVENTS, new TaskEvent(seq, ts, EventTypes.TASK_LOG, "bench-task", data).toJson());
            }
            if (published.get() >= total) {
                vertx.cancelTimer(id);
                done.countDown();
            }
        });
    }

    private static List<Subscriber> connect(Vertx vertx, int port, String token, int n, Recorder recorder) throws Exception {
        WebSocketClient client = vertx.createWebSocketClient(new WebSocketClientOptions()
                .setMaxConnections(n + 10).setMaxMessageSize(8 * 1024 * 1024));
        List<Subscriber> subs = new ArrayList<>();
        CountDownLatch live = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            Subscriber s = new Subscriber(i, recorder);
            subs.add(s);
            WebSocketConnectOptions options = new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/events")
                    .addHeader("Authorization", "Bearer " + token);
            await(client.connect(options).map(ws -> {
                ws.textMessageHandler(text -> {
                    if (s.onFrame(text)) live.countDown();
                });
                ws.closeHandler(v -> s.closed = true);
                return ws;
            }));
        }
        if (!live.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("not every subscriber went live");
        return subs;
    }

    private static boolean report(Recorder r, List<Subscriber> subs, int n, int rate, long published, double publishSeconds) {
        long expected = published * n;
        long delivered = r.delivered.get();
        long lost = 0;
        long duplicates = 0;
        int overruns = 0;
        long frames = 0;
        for (Subscriber s : subs) {
            lost += published - s.distinct;
            duplicates += s.duplicates;
            frames += s.frames;
            if (s.overrun) overruns++;
        }
        long[] lat = Arrays.copyOf(r.latencies, r.count.get());
        Arrays.sort(lat);
        double p50 = percentileMs(lat, 0.50);
        double p90 = percentileMs(lat, 0.90);
        double p99 = percentileMs(lat, 0.99);
        double max = lat.length == 0 ? 0 : lat[lat.length - 1] / 1e6;
        System.out.printf("published %d events in %.2f s (%.0f/s) to %d subscribers%n", published, publishSeconds, published / publishSeconds, n);
        System.out.printf("deliveries: expected %d, received %d (%.0f/s), lost %d, duplicated %d, overrun clients %d%n",
                expected, delivered, delivered / publishSeconds, lost, duplicates, overruns);
        System.out.printf("frames: %d (%.1f events per frame)%n", frames, frames == 0 ? 0.0 : (double) delivered / frames);
        System.out.printf("latency after warm-up (%d samples): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                lat.length, p50, p90, p99, max);
        System.out.printf("machine: %d cores, load average %s (other processes share these cores)%n",
                Runtime.getRuntime().availableProcessors(), loadAverage());
        boolean pass = lost == 0 && duplicates == 0 && overruns == 0 && p99 <= P99_TARGET_MS;
        System.out.printf("result: %s (target: 0 lost, p99 <= %d ms)%n", pass ? "PASS" : "FAIL", P99_TARGET_MS);
        return pass;
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static double percentileMs(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e6;
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }

    /** Shared across subscribers; latencies are written by the client event loops. */
    private static final class Recorder {
        final long[] latencies;
        final AtomicInteger count = new AtomicInteger();
        final AtomicLong delivered = new AtomicLong();
        volatile long warmupEnd = Long.MAX_VALUE;
        final List<Subscriber> all = new ArrayList<>();

        Recorder(int subscribers, long events) {
            latencies = new long[(int) Math.min(Integer.MAX_VALUE - 8, (long) subscribers * events)];
        }

        void record(long sentNanos, long now) {
            delivered.incrementAndGet();
            if (sentNanos < warmupEnd) return;
            int i = count.getAndIncrement();
            if (i < latencies.length) latencies[i] = now - sentNanos;
            else count.decrementAndGet();
        }

        boolean allOpen() {
            return true;
        }
    }

    /** One client; its handler runs on one client event loop only. */
    private static final class Subscriber {
        final int index;
        final Recorder recorder;
        long lastSeq;
        long distinct;
        long duplicates;
        long frames;
        boolean overrun;
        volatile boolean closed;

        Subscriber(int index, Recorder recorder) {
            this.index = index;
            this.recorder = recorder;
        }

        /**
         * Returns true for the frame that says the client is live. Event frames are read with a
         * streaming parser that picks out {@code seq} and {@code data.t} only, so the clients,
         * which share the cores with the server, spend as little as possible.
         */
        boolean onFrame(String text) {
            try (JsonParser p = JSON.createParser(text)) {
                String type = null;
                long now = System.nanoTime();
                long seq = -1;
                int depth = 0;
                boolean inData = false;
                for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                    switch (t) {
                        case START_OBJECT -> {
                            depth++;
                            if (depth == 3 && "data".equals(p.currentName())) inData = true;
                        }
                        case END_OBJECT -> {
                            if (depth == 3) inData = false;
                            depth--;
                        }
                        case VALUE_STRING -> {
                            if (depth == 1 && "type".equals(p.currentName())) type = p.getText();
                        }
                        case VALUE_NUMBER_INT -> {
                            if (depth == 2 && "seq".equals(p.currentName())) seq = p.getLongValue();
                            else if (depth == 3 && inData && "t".equals(p.currentName())) onEvent(seq, p.getLongValue(), now);
                            else if (depth == 1 && "resume_from".equals(p.currentName())) overrun = true;
                        }
                        default -> { }
                    }
                }
                if ("events".equals(type)) frames++;
                return "live".equals(type);
            } catch (java.io.IOException e) {
                throw new IllegalStateException("unreadable frame", e);
            }
        }

        /** Relies on the server writing "seq" before "data" in each event, as TaskEvent#toJson does. */
        private void onEvent(long seq, long sentNanos, long now) {
            if (seq <= lastSeq) {
                duplicates++;
                return;
            }
            lastSeq = seq;
            distinct++;
            recorder.record(sentNanos, now);
        }
    }
}
