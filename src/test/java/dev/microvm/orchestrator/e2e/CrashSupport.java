package dev.microvm.orchestrator.e2e;

import java.nio.file.Path;

/** Finding the QEMU processes that belong to one state directory. */
final class CrashSupport {

    private CrashSupport() {}

    static boolean anyQemuFor(Path stateRoot) {
        return ProcessHandle.allProcesses().anyMatch(ph -> ph.isAlive()
                && ph.info().command().orElse("").contains("qemu-system")
                && ph.info().commandLine().orElse("").contains(stateRoot.toString()));
    }
}
