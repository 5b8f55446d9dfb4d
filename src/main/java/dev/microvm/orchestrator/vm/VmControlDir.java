package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A VM's private control directory (0700): its persisted handle, the hypervisor's own output,
 * control sockets. Also reads the logs a VM leaves, for readiness checks and error messages.
 */
public final class VmControlDir {
    public static final String HANDLE_FILE = "handle.json";
    public static final String HYPERVISOR_LOG = "hypervisor.log";

    private VmControlDir() {}

    /** The control directory recorded in a handle. */
    public static Path of(VmHandle handle) {
        return Path.of(handle.data().getString("control_dir"));
    }

    static void create(Path dir) throws IOException {
        AtomicFiles.privateDirectory(dir);
    }

    /** Persists the handle crash-safely, so a successor process can recover the VM. */
    static void writeHandle(Path dir, VmHandle handle) throws VmException {
        try {
            AtomicFiles.write(dir.resolve(HANDLE_FILE), handle.toJson().encodePrettily());
        } catch (IOException e) {
            throw new VmException("spawn_failed", "cannot write VM handle into " + dir + ": " + e.getMessage(), e);
        }
    }

    static boolean contains(Path file, String marker) {
        try {
            return Files.exists(file) && Files.readString(file, StandardCharsets.ISO_8859_1).contains(marker);
        } catch (IOException e) {
            return false;
        }
    }

    /** Last few lines of a log, for error messages. */
    public static String tail(Path file) {
        try {
            if (!Files.exists(file)) return "(no " + file.getFileName() + ")";
            List<String> lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())).strip();
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }
}
