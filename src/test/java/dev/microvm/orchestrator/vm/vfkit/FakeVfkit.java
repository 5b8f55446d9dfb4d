package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.GuestRunnerFiles;

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
        // written beside and renamed into place: a fake started by an earlier install may be
        // opening its script right now and must never see it missing or half written
        Path tmp = dir.resolve("vfkit.tmp");
        try (InputStream in = FakeVfkit.class.getResourceAsStream("/fake-vfkit/vfkit")) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.move(tmp, exe, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Path runner = dir.resolve("mvo-runner.sh.tmp");
        Files.writeString(runner, GuestRunnerFiles.runnerScript());
        Files.move(runner, dir.resolve("mvo-runner.sh"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return exe;
    }
}
