package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.util.ProcessRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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

    /**
     * The live process with this pid and start time, if it still exists. A process that has exited
     * but is not reaped yet (a zombie: a VM whose orchestrator died is reaped by init, sometimes
     * late) counts as gone: its arguments can no longer be read, so it would look like a stranger.
     */
    public static Optional<ProcessHandle> find(long pid, String startTime) {
        if (pid <= 0 || startTime == null) return Optional.empty();
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(ph -> !exited(pid))
                .filter(ph -> sameStart(startTime, ph.info().startInstant().map(i -> Long.toString(i.toEpochMilli())).orElse(null)));
    }

    /** True while the process runs: alive and not merely waiting to be reaped. */
    public static boolean running(long pid) {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).isPresent() && !exited(pid);
    }

    /** True for a zombie (Linux: state Z or X in /proc/PID/stat); false where that cannot be read. */
    static boolean exited(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        try {
            String s = Files.readString(stat);
            int close = s.lastIndexOf(')'); // the command name may itself contain ')' or spaces
            if (close < 0 || close + 2 >= s.length()) return false;
            char state = s.charAt(close + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
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
        // A VM runs in a session and process group of its own (setsid). Killing the group also takes
        // a child forked after the list above was read (the runner forks all the time), which
        // killing by list would miss and leave carrying the VM's tag.
        if (leadsOwnGroup(ph.pid())) killGroup(ph.pid());
        ph.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
    }

    /** True when the process is its process group's leader, and that group is not this JVM's (Linux). */
    static boolean leadsOwnGroup(long pid) {
        return pid != ProcessHandle.current().pid() && processGroup(pid) == pid && processGroup(ProcessHandle.current().pid()) != pid;
    }

    private static long processGroup(long pid) {
        try {
            String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] after = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(after[2]); // state, ppid, pgrp
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static void killGroup(long pgid) {
        try {
            ProcessRunner.of("kill", "-KILL", "--", "-" + pgid).timeout(Duration.ofSeconds(5)).run();
        } catch (IOException e) {
            // no kill(1), or it hung: the list below still kills what it found
        }
    }
}
