package dev.microvm.orchestrator.vm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

class MappedOwnershipTest {

    @TempDir Path tmp;

    @Test
    void files_directories_and_links_get_the_guest_owner_and_links_become_qemus_mapped_form() throws Exception {
        Path ws = Files.createDirectories(tmp.resolve("ws/src"));
        Path file = Files.writeString(ws.resolve("main.py"), "print(1)\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-x---"));
        Path link = Files.createSymbolicLink(ws.resolve("current"), Path.of("../outside/target"));

        MappedOwnership.stamp(tmp.resolve("ws"), 1000, 1000);

        assertThat(MappedOwnership.recordedUid(tmp.resolve("ws"))).isEqualTo(1000);
        assertThat(MappedOwnership.recordedMode(ws)).isEqualTo(MappedOwnership.S_IFDIR | 0755);
        assertThat(MappedOwnership.recordedMode(file)).isEqualTo(MappedOwnership.S_IFREG | 0750);
        // the mapped model reads a link's target from the file's content; on the host it is no link any more
        assertThat(Files.isSymbolicLink(link)).isFalse();
        assertThat(Files.isRegularFile(link, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(link, StandardCharsets.UTF_8)).isEqualTo("../outside/target");
        assertThat(MappedOwnership.recordedMode(link)).isEqualTo(MappedOwnership.S_IFLNK | 0777);
        assertThat(Files.readString(file)).isEqualTo("print(1)\n");
    }
}
