package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.vm.HypervisorDriver.VmExit;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The hypervisor processes this JVM spawned (only for these is the exit code known) and waiting
 * for a VM's process to run or to end, whoever spawned it.
 */
final class SpawnedHypervisors {
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration EXEC_PATIENCE = Duration.ofSeconds(30);

    private final Map<Long, Process> children = new ConcurrentHashMap<>();

    void track(Process process) {
        children.put(process.pid(), process);
    }

    void forget(long pid) {
        children.remove(pid);
    }

    /**
     * The spawned pid runs the JDK's launch helper, then the detaching wrapper (setsid), and the
     * hypervisor only after their execs. The wrapper's arguments already carry the VM's tag, so a
     * handle taken then would be refused by recovery and missed by the orphan search (both check
     * the executable). Waits until {@code isHypervisor} holds for the pid, or the process ends.
     */
    void awaitExec(Process process, Predicate<ProcessHandle> isHypervisor, String driver) throws VmException {
        long deadline = System.nanoTime() + EXEC_PATIENCE.toNanos();
        while (process.isAlive()) {
            Optional<ProcessHandle> ph = ProcessHandle.of(process.pid());
            if (ph.isPresent() && isHypervisor.test(ph.get())) return;
            if (System.nanoTime() > deadline) {
                destroy(process);
                throw new VmException("spawn_failed", driver + " did not start within " + EXEC_PATIENCE.toSeconds()
                        + " s (pid " + process.pid() + " still runs " + ph.flatMap(p -> p.info().command()).orElse("?") + ")");
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                destroy(process);
                throw new VmException("spawn_failed", "interrupted while starting " + driver);
            }
        }
    }

    /** Why a spawned process has no start time: it exited (with this code) or is not readable. */
    String exitDetail(long pid) {
        Process p = children.remove(pid);
        if (p == null) return "no start time";
        try {
            return p.waitFor(2, TimeUnit.SECONDS) ? "exit code " + p.exitValue() : "no start time";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** The VM's exit once its process has ended, waiting up to {@code timeout}; empty while it runs. */
    Optional<VmExit> awaitExit(VmHandle handle, Duration timeout) throws InterruptedException {
        Process child = children.get(handle.pid());
        if (child != null) {
            if (!child.waitFor(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS)) return Optional.empty();
            children.remove(handle.pid());
            return Optional.of(new VmExit(child.exitValue(), false, "exited with code " + child.exitValue()));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (ProcessIdentity.find(handle.pid(), handle.processStartTime()).isPresent()) {
            if (System.nanoTime() >= deadline) return Optional.empty();
            Thread.sleep(POLL.toMillis());
        }
        return Optional.of(new VmExit(null, false, "exited (status unknown: started by another process)"));
    }

    /** After a kill: reaps the child (if ours) so it leaves no zombie. */
    void reap(long pid) throws InterruptedException {
        Process child = children.remove(pid);
        if (child != null) child.waitFor(5, TimeUnit.SECONDS);
    }

    private void destroy(Process process) {
        process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        children.remove(process.pid());
    }
}
