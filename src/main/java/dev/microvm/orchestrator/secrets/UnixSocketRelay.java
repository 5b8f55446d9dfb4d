package dev.microvm.orchestrator.secrets;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A unix socket whose connections are carried, byte for byte, to a TCP address: the host end of a
 * guest's vsock channel (vfkit joins vsock port N to a unix socket) to the credential proxy on
 * loopback. It authenticates nothing itself: every request still needs its task's placeholder at
 * the proxy. Plain JDK channels, so it needs no native transport on Linux or macOS; its threads
 * are its own (one accepting, two virtual threads per connection), never an event loop.
 */
final class UnixSocketRelay implements AutoCloseable {
    private final Path socket;
    private final InetSocketAddress target;
    private final ServerSocketChannel server;

    private UnixSocketRelay(Path socket, InetSocketAddress target, ServerSocketChannel server) {
        this.socket = socket;
        this.target = target;
        this.server = server;
    }

    /** Listens on {@code socket} (replacing a stale one; owner-only) and relays each connection to {@code target}. Blocking. */
    static UnixSocketRelay open(Path socket, InetSocketAddress target) throws IOException {
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        UnixSocketRelay relay = new UnixSocketRelay(socket, target, server);
        Thread.ofPlatform().daemon().name("mvo-api-relay-" + socket.getFileName()).start(relay::acceptLoop);
        return relay;
    }

    Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel guest;
            try {
                guest = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            Thread.ofVirtual().start(() -> relay(guest));
        }
    }

    private void relay(SocketChannel guest) {
        try (guest; SocketChannel host = SocketChannel.open(target)) {
            Thread back = Thread.ofVirtual().start(() -> pump(host, guest));
            pump(guest, host);
            back.join();
        } catch (IOException | InterruptedException e) {
            // the connection ends; the guest sees it closed
        }
    }

    /** Copies until end of input, then passes the end on (half-close), so request/response framing stays intact. */
    private static void pump(SocketChannel from, SocketChannel to) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (from.read(buf) >= 0) {
                buf.flip();
                while (buf.hasRemaining()) to.write(buf);
                buf.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // both ends are going anyway
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }
}
