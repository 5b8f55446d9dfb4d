package dev.microvm.orchestrator.secrets;

import dev.microvm.orchestrator.secrets.GuestOutputException.Reason;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The guest directory is populated the way a hostile guest would leave it. */
class GuestOutputReaderTest {

    @TempDir Path tmp;
    private Path guest;
    private Path hostSecret;
    private GuestOutputReader reader;

    @BeforeEach
    void setUp() throws Exception {
        guest = Files.createDirectory(tmp.resolve("io"));
        Path home = Files.createDirectories(tmp.resolve("home/.ssh"));
        hostSecret = Files.writeString(home.resolve("id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY----- host secret");
        reader = new GuestOutputReader(guest, 1024);
    }

    private Reason reasonFor(String name) {
        GuestOutputException e = org.assertj.core.api.Assertions.catchThrowableOfType(GuestOutputException.class, () -> reader.read(name));
        assertThat(e).as("reading %s must be refused", name).isNotNull();
        assertThat(e.getMessage()).doesNotContain("host secret");
        return e.reason();
    }

    @Test
    void anOrdinaryResultFileIsRead() throws Exception {
        Files.createDirectories(guest.resolve("out"));
        Files.writeString(guest.resolve("out/result.json"), "{\"ok\":true}");
        GuestFile f = reader.read("out/result.json");
        assertThat(f.text()).isEqualTo("{\"ok\":true}");
        assertThat(f.truncated()).isFalse();
        assertThat(f.size()).isEqualTo(11);
    }

    @Test
    void aSymlinkToAHostSecretIsRefused() throws Exception {
        Files.createSymbolicLink(guest.resolve("result.json"), hostSecret);
        assertThat(reasonFor("result.json")).isEqualTo(Reason.SYMLINK);
    }

    @Test
    void aSymlinkedDirectoryInsideTheGuestDirIsRefused() throws Exception {
        Files.createSymbolicLink(guest.resolve("out"), hostSecret.getParent());
        assertThat(reasonFor("out/id_ed25519")).isEqualTo(Reason.SYMLINK);
    }

    @Test
    void aRelativeSymlinkEscapingUpwardsIsRefused() throws Exception {
        Files.createSymbolicLink(guest.resolve("log.txt"), Path.of("../home/.ssh/id_ed25519"));
        assertThat(reasonFor("log.txt")).isEqualTo(Reason.SYMLINK);
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.SECONDS)
    void aFifoIsRefusedWithoutBlocking() throws Exception {
        Path fifo = guest.resolve("result.json");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(p.waitFor()).isZero();
        assertThat(reasonFor("result.json")).isEqualTo(Reason.NOT_REGULAR);
        assertThat(reader.isReadable("result.json")).isFalse();
    }

    @Test
    void aDirectoryWhereAFileIsExpectedIsRefused() throws Exception {
        Files.createDirectory(guest.resolve("result.json"));
        assertThat(reasonFor("result.json")).isEqualTo(Reason.NOT_REGULAR);
    }

    @Test
    void aUnixSocketIsRefused() throws Exception {
        Path socket = guest.resolve("result.json");
        try (var server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(socket));
            assertThat(reasonFor("result.json")).isEqualTo(Reason.NOT_REGULAR);
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.SECONDS)
    void aSparse100GigabyteFileIsReadOnlyUpToTheCap() throws Exception {
        Path huge = guest.resolve("console.log");
        try (RandomAccessFile raf = new RandomAccessFile(huge.toFile(), "rw")) {
            raf.write("start of log\n".getBytes());
            raf.setLength(100L * 1024 * 1024 * 1024);
        }
        GuestFile f = reader.read("console.log");
        assertThat(f.content()).hasSize(1024);
        assertThat(f.truncated()).isTrue();
        assertThat(f.size()).isEqualTo(100L * 1024 * 1024 * 1024);
        assertThat(f.text()).startsWith("start of log");
    }

    @Test
    void aHardlinkToAHostFileIsRefused() throws Exception {
        // Only possible when the host file lives on the same filesystem as the share; refusing any
        // file with a second name costs nothing, since a guest never needs one for its output.
        Files.createLink(guest.resolve("result.json"), hostSecret);
        assertThat(reasonFor("result.json")).isEqualTo(Reason.HARDLINK);
    }

    @ParameterizedTest
    @ValueSource(strings = {"../home/.ssh/id_ed25519", "out/../../home/.ssh/id_ed25519", "/etc/passwd", "", ".", "a\0b"})
    void namesThatLeaveTheDirectoryAreRefused(String name) throws Exception {
        Files.createDirectories(guest.resolve("out"));
        assertThat(reasonFor(name)).isEqualTo(Reason.BAD_NAME);
    }

    @Test
    void aMissingFileIsReportedAsMissing() {
        assertThat(reasonFor("result.json")).isEqualTo(Reason.MISSING);
    }

    @Test
    void aFileUnderARegularFileNamedLikeADirectoryIsRefused() throws Exception {
        Files.writeString(guest.resolve("out"), "x");
        assertThat(reasonFor("out/result.json")).isIn(Reason.NOT_A_DIRECTORY, Reason.MISSING);
    }

    @org.junit.jupiter.api.Test
    void theTailOfAHugeSparseLogIsItsLastBytesAndALinkedLogIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path log = dir.resolve("agent.log");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(log.toFile(), "rw")) {
            f.setLength(20L << 30);
            f.seek((20L << 30) - 6);
            f.write("the-end".substring(1).getBytes());
        }
        GuestOutputReader reader = new GuestOutputReader(dir, 1024);
        GuestFile tail = reader.readTailIfPresent("agent.log").orElseThrow();
        org.assertj.core.api.Assertions.assertThat(tail.content()).hasSize(1024);
        org.assertj.core.api.Assertions.assertThat(tail.text()).endsWith("he-end");
        org.assertj.core.api.Assertions.assertThat(tail.truncated()).isTrue();
        org.assertj.core.api.Assertions.assertThat(reader.readTailIfPresent("absent.log")).isEmpty();
        java.nio.file.Files.createSymbolicLink(dir.resolve("linked.log"), log);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> reader.readTailIfPresent("linked.log"))
                .isInstanceOf(GuestOutputException.class).hasMessageContaining("symbolic link");
    }
}
