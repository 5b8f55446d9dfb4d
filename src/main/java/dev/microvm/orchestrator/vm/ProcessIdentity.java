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

    /** The live process with this pid and start time, if it still exists. */
    public static Optional<ProcessHandle> find(long pid, String startTime) {
        if (pid <= 0 || startTime == null) return Optional.empty();
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(ph -> startTime.equals(ph.info().startInstant().map(i -> Long.toString(i.toEpochMilli())).orElse(null)));
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
