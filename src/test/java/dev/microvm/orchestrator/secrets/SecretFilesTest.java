package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

class SecretFilesTest {

    @TempDir Path tmp;

    @Test
    void writtenFilesAre0600InA0700Directory() throws Exception {
        Path file = tmp.resolve("secrets").resolve("token");
        SecretFiles.writeAtomically(file, Secret.of("sk-ant-oat01-abc"));
        assertThat(Files.readString(file)).isEqualTo("sk-ant-oat01-abc\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent()))).isEqualTo("rwx------");
        try (var listing = Files.list(file.getParent())) {
            assertThat(listing).containsExactly(file); // no temporary file left behind
        }
    }

    @Test
    void anExistingDirectoryThatIsTooOpenIsTightened() throws Exception {
        Path dir = tmp.resolve("secrets");
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        SecretFiles.writeAtomically(dir.resolve("token"), Secret.of("x-value-1"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
    }

    @Test
    void overwritingReplacesASymlinkInsteadOfWritingThroughIt() throws Exception {
        Path victim = tmp.resolve("victim");
        Files.writeString(victim, "precious");
        Path dir = tmp.resolve("secrets");
        Files.createDirectory(dir);
        Path file = dir.resolve("token");
        Files.createSymbolicLink(file, victim);
        SecretFiles.writeAtomically(file, Secret.of("sk-ant-oat01-new"));
        assertThat(Files.readString(victim)).isEqualTo("precious");
        assertThat(Files.isSymbolicLink(file)).isFalse();
        assertThat(Files.readString(file, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("sk-ant-oat01-new\n");
    }

    @Test
    void aSymlinkedSecretsDirectoryIsRefused() throws Exception {
        Path real = Files.createDirectory(tmp.resolve("real"));
        Path link = Files.createSymbolicLink(tmp.resolve("secrets"), real);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SecretFiles.writeAtomically(link.resolve("token"), Secret.of("value-123")))
                .hasMessageContaining("symbolic link");
        assertThat(Files.exists(real.resolve("token"), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }
}
