package dev.microvm.orchestrator.vm.vfkit;

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

import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VfkitRestClientTest {
    @TempDir Path tmp;

    @Test
    void a_rest_server_that_accepts_and_never_answers_fails_within_the_limit() throws Exception {
        Path socket = tmp.resolve("rest.sock");
        List<SocketChannel> accepted = new ArrayList<>();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try {
                    accepted.add(server.accept());
                } catch (IOException ignored) {
                    // closed at the end of the test
                }
            });
            assertThatThrownBy(() -> new VfkitRestClient(socket, Duration.ofMillis(500)).state())
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("did not answer GET /vm/state");
            acceptor.join(5_000);
        } finally {
            for (SocketChannel c : accepted) c.close();
        }
    }
}
