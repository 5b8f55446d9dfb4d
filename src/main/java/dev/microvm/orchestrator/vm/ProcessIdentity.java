package dev.microvm.orchestrator.vm;

import java.util.List;
import java.util.Optional;

/**
 * Identifies a host process by pid plus start time, so a recycled pid is never mistaken for the
 * hypervisor it once was. Uses {@link ProcessHandle}, which reads /proc on Linux and sysctl on macOS.
 */
public final class ProcessIdentity {
    private ProcessIdentity() {}

    /** Start time of {@code pid} as an opaque string, or empty when no such process exists. */
    public static Optional<String> startTime(long pid) {
        return ProcessHandle.of(pid).flatMap(ph -> ph.info().startInstant()).map(i -> Long.toString(i.toEpochMilli()));
    }

    /**
     * How far two readings of one process's start time may differ. On Linux the JDK adds the
     * process's start (clock ticks since boot) to the boot time from /proc/stat, which it reads once
     * per JVM and which the kernel derives from the adjusted wall clock: another JVM may see a boot
     * time a second off. A recycled pid within that window would need the pid space to wrap in 2 s.
     */
    static final long START_TOLERANCE_MS = 1_500;

    /** The live process with this pid and start time, if it still exists. */
    public static Optional<ProcessHandle> find(long pid, String startTime) {
        if (pid <= 0 || startTime == null) return Optional.empty();
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(ph -> sameStart(startTime, ph.info().startInstant().map(i -> Long.toString(i.toEpochMilli())).orElse(null)));
    }

    static boolean sameStart(String recorded, String observed) {
        if (recorded == null || observed == null) return false;
        try {
            return Math.abs(Long.parseLong(recorded) - Long.parseLong(observed)) <= START_TOLERANCE_MS;
        } catch (NumberFormatException e) {
            return recorded.equals(observed);
        }
    }

    /** Arguments of a process (without the executable), empty when they cannot be read. */
    public static List<String> arguments(ProcessHandle ph) {
        return ph.info().arguments().map(List::of).orElse(List.of());
    }

    /** Kills the process and everything it started, without asking. */
    public static void killTree(ProcessHandle ph) {
        List<ProcessHandle> descendants = ph.descendants().toList();
        ph.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
    }
}
