package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.GuestContract;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** Installs the fake vfkit (src/test/resources/fake-vfkit) with the runner next to it. */
final class FakeVfkit {
    private FakeVfkit() {}

    static Path install(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path exe = dir.resolve("vfkit");
        try (InputStream in = FakeVfkit.class.getResourceAsStream("/fake-vfkit/vfkit")) {
            Files.copy(in, exe, StandardCopyOption.REPLACE_EXISTING);
        }
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("mvo-runner.sh"), GuestContract.runnerScript());
        return exe;
    }
}
