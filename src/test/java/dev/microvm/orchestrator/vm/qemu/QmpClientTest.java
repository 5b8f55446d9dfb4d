package dev.microvm.orchestrator.vm.qemu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class QmpClientTest {
    @TempDir Path tmp;

    @Test
    void a_monitor_that_accepts_and_never_answers_fails_within_the_limit() throws Exception {
        Path socket = tmp.resolve("qmp.sock");
        List<SocketChannel> accepted = new ArrayList<>();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try {
                    accepted.add(server.accept()); // and say nothing, like a hung QEMU or a busy monitor
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> QmpClient.execute(socket, "query-status", Duration.ofMillis(500)))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("did not answer query-status");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
            acceptor.join(5_000);
        } finally {
            for (SocketChannel c : accepted) c.close();
        }
    }
}
