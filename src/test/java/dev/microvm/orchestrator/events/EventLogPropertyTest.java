package dev.microvm.orchestrator.events;

import dev.microvm.orchestrator.testing.JavaProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The log's promises under load: three processes append events from a few bytes to several MB,
 * and are killed with SIGKILL in the middle of it, again and again. Afterwards every sequence
 * number is unique and increasing, every event an appender saw acknowledged reads back intact, and
 * every complete line in the file is reachable through the index.
 */
class EventLogPropertyTest {

    @TempDir Path tmp;

    /** Test helper process: appends events of random sizes until killed, printing each acknowledged one. */
    public static final class RandomAppender {
        public static void main(String[] args) {
            EventLog log = new EventLog(Path.of(args[0]), Clock.systemUTC());
            String who = args[1];
            Random random = new Random(Long.parseLong(args[2]));
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            for (int i = 0; ; i++) {
                int size = randomSize(random);
                String payload = payload(random.nextLong(), size);
                TaskEvent e = log.append(i % 5 == 0 ? EventTypes.TASK_STATE : EventTypes.TASK_LOG, "t-" + who,
                        new JsonObject().put("who", who).put("i", i).put("payload", payload));
                out.println("ok " + e.seq() + " " + who + " " + i + " " + payload.hashCode() + " " + size);
            }
        }

        /** Log-uniform from 1 byte to 6 MB, so both tiny and huge lines are common. */
        static int randomSize(Random random) {
            return (int) Math.round(Math.exp(random.nextDouble() * Math.log(6 * 1024 * 1024)));
        }

        static String payload(long seed, int size) {
            Random r = new Random(seed);
            char[] c = new char[size];
            // backslashes and quotes double in JSON: the stored line is longer than the payload
            String alphabet = "abcdefghijklmnopqrstuvwxyz\\\"0123456789 ";
            for (int k = 0; k < size; k++) c[k] = alphabet.charAt(r.nextInt(alphabet.length()));
            return new String(c);
        }
    }

    private record Ack(long seq, String who, int i, int hash, int size) {}

    @Test
    void threeProcessesKilledMidAppendLeaveUniqueIncreasingNumbersAndEveryCompleteEventReadable() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        Path file = tmp.resolve("events/events.jsonl");
        Map<String, Process> running = new ConcurrentHashMap<>();
        List<Ack> acks = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> readers = new ArrayList<>();
        int started = 0;
        int kills = 0;
        for (int slot = 0; slot < 3; slot++) readers.add(start(file, "p" + slot + "-0", random.nextLong(), running, acks, slot));
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < end) {
            Thread.sleep(100 + random.nextInt(500));
            int slot = random.nextInt(3);
            String key = running.keySet().stream().filter(k -> k.startsWith("p" + slot + "-")).findFirst().orElseThrow();
            Process victim = running.remove(key);
            victim.destroyForcibly(); // SIGKILL
            victim.waitFor(10, TimeUnit.SECONDS);
            kills++;
            started++;
            readers.add(start(file, "p" + slot + "-" + started, random.nextLong(), running, acks, slot));
        }
        for (Process p : running.values()) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        for (Thread t : readers) t.join(10_000);

        String context = "seed " + seed + ", " + kills + " kills, " + acks.size() + " acknowledged events";
        EventLog log = new EventLog(file, Clock.systemUTC());
        List<TaskEvent> all = log.readAfter(0, Integer.MAX_VALUE);
        for (int k = 1; k < all.size(); k++) {
            assertThat(all.get(k).seq()).as(context).isGreaterThan(all.get(k - 1).seq());
        }
        Map<Long, TaskEvent> bySeq = new HashMap<>();
        all.forEach(e -> bySeq.put(e.seq(), e));
        assertThat(acks).as(context).hasSizeGreaterThan(20);
        assertThat(acks.stream().anyMatch(a -> a.size() > 1024 * 1024)).as("some events over 1 MB; " + context).isTrue();
        for (Ack a : acks) {
            TaskEvent e = bySeq.get(a.seq());
            assertThat(e).as("acknowledged %s; %s", a, context).isNotNull();
            assertThat(e.data().getString("who")).isEqualTo(a.who());
            assertThat(e.data().getInteger("i")).isEqualTo(a.i());
            assertThat(e.data().getString("payload")).hasSize(a.size());
            assertThat(e.data().getString("payload").hashCode()).isEqualTo(a.hash());
        }
        // every complete line in the file (acknowledged or not: killed after its write) is indexed
        List<Long> inFile = new ArrayList<>();
        try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
            lines.forEach(l -> {
                try {
                    inFile.add(new JsonObject(l).getLong("seq"));
                } catch (RuntimeException torn) {
                    // a line cut by a kill and followed by a later one is not an event
                }
            });
        }
        assertThat(all.stream().map(TaskEvent::seq).toList()).as(context).isEqualTo(inFile);
        long last = log.lastSequence();
        assertThat(last).isEqualTo(all.getLast().seq());
        assertThat(log.append("t", null, new JsonObject()).seq()).isEqualTo(last + 1);
    }

    private static Thread start(Path file, String who, long seed, Map<String, Process> running, List<Ack> acks, int slot) throws Exception {
        Process p = JavaProcess.builder(RandomAppender.class, file.toString(), who, Long.toString(seed))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        running.put(who, p);
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    String[] f = line.split(" ");
                    if (f.length == 6 && f[0].equals("ok")) {
                        acks.add(new Ack(Long.parseLong(f[1]), f[2], Integer.parseInt(f[3]), Integer.parseInt(f[4]), Integer.parseInt(f[5])));
                    }
                }
            } catch (Exception e) {
                // the process was killed
            }
        });
        return t;
    }
}
