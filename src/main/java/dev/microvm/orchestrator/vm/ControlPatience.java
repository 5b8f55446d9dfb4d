package dev.microvm.orchestrator.vm;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * How long recovery waits on a re-found VM: for a process with unreadable arguments to show them or
 * go, and for its control channel to answer before it is destroyed.
 */
final class ControlPatience {
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration CONTROL_PATIENCE = Duration.ofSeconds(5);
    /** Until this age a VM's control channel is given time to come up (see {@link #patience}). */
    private static final Duration YOUNG_VM = Duration.ofSeconds(60);

    private volatile Duration youngVm = YOUNG_VM;

    /** For tests of the destroy path: how long after its start a VM counts as young. */
    void youngVmAge(Duration age) {
        this.youngVm = age;
    }

    /** Waits up to 5 s for a process with unreadable arguments to end or to show them. */
    Optional<ProcessHandle> settle(VmHandle handle) {
        long deadline = System.nanoTime() + CONTROL_PATIENCE.toNanos();
        while (true) {
            Optional<ProcessHandle> ph = ProcessIdentity.find(handle.pid(), handle.processStartTime());
            if (ph.isEmpty() || !ProcessIdentity.arguments(ph.get()).isEmpty() || System.nanoTime() > deadline) return ph;
            if (!pause()) return ph;
        }
    }

    /**
     * True when the VM's control channel answers in time. A hypervisor started moments ago (the
     * previous orchestrator died right after spawning it) may not have opened its socket yet, least
     * of all on a loaded host: a young VM gets until it is {@link #YOUNG_VM} old.
     */
    boolean answers(VmHandle handle, Predicate<VmHandle> controllable) {
        long deadline = System.nanoTime() + patience(handle).toNanos();
        while (true) {
            if (controllable.test(handle)) return true;
            if (System.nanoTime() > deadline || ProcessIdentity.find(handle.pid(), handle.processStartTime()).isEmpty()) return false;
            if (!pause()) return false;
        }
    }

    private Duration patience(VmHandle handle) {
        try {
            long age = System.currentTimeMillis() - Long.parseLong(handle.processStartTime());
            long young = youngVm.toMillis() - age;
            return young > CONTROL_PATIENCE.toMillis() ? Duration.ofMillis(young) : CONTROL_PATIENCE;
        } catch (NumberFormatException e) {
            return CONTROL_PATIENCE;
        }
    }

    private static boolean pause() {
        try {
            Thread.sleep(POLL.toMillis());
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
