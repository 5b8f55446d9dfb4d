package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Test helper process: repeatedly takes any free slot, holds it briefly, records the interval.
 * It announces itself ({@code OUT.ready}) and starts only when the go file appears, then runs at
 * least 2 s, so that all probes really contend instead of running one after another.
 */
public final class SlotLockProbe {
    public static void main(String[] args) throws Exception {
        StatePaths paths = new StatePaths(Path.of(args[0]));
        int slots = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        Path out = Path.of(args[3]);
        String who = args[4];
        Path go = Path.of(args[5]);
        SlotLocks locks = new SlotLocks(paths, id -> false);
        StringBuilder log = new StringBuilder();
        Files.writeString(Path.of(args[3] + ".ready"), who);
        long waitUntil = System.nanoTime() + 120_000_000_000L;
        while (!Files.exists(go) && System.nanoTime() < waitUntil) Thread.sleep(5);
        int got = 0;
        long started = System.nanoTime();
        long deadline = started + 60_000_000_000L;
        for (int i = 0; (got < rounds || System.nanoTime() - started < 2_000_000_000L) && System.nanoTime() < deadline; i++) {
            boolean took = false;
            for (int n = 0; n < slots; n++) {
                String task = who + "-" + i;
                if (locks.tryAcquire(n, task)) {
                    long start = System.nanoTime();
                    Thread.sleep(ThreadLocalRandom.current().nextInt(1, 6));
                    long end = System.nanoTime();
                    log.append(n).append(' ').append(start).append(' ').append(end).append(' ').append(task).append('\n');
                    locks.release(n, task);
                    got++;
                    took = true;
                    break;
                }
            }
            if (!took) Thread.sleep(1);
        }
        Files.writeString(out, log.toString(), StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
    }
}
