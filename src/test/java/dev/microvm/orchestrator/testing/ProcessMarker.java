package dev.microvm.orchestrator.testing;

import java.util.concurrent.ThreadLocalRandom;

/** Finds test processes again by a marker among their arguments: a sleep duration no other process uses. */
public final class ProcessMarker {
    private ProcessMarker() {}

    /** 300 seconds and a random fraction, for {@code sleep}. */
    public static String sleepSeconds() {
        return "300." + ThreadLocalRandom.current().nextInt(100_000, 1_000_000);
    }

    /** True while some live process has {@code marker} in its arguments; waits up to 5 s for them to go. */
    public static boolean running(String marker) throws InterruptedException {
        for (int i = 0; i < 50; i++) {
            boolean any = ProcessHandle.allProcesses().anyMatch(ph -> ph.isAlive()
                    && String.join(" ", ph.info().arguments().orElse(new String[0])).contains(marker));
            if (!any) return false;
            Thread.sleep(100);
        }
        return true;
    }
}
