package dev.microvm.orchestrator.vm.qemu;

import io.vertx.core.json.JsonObject;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import dev.microvm.orchestrator.vm.ChannelDeadline;

/** Minimal QMP client over a unix socket: handshake, then one command. */
final class QmpClient {
    /** A QEMU whose monitor does not answer within this is treated as uncontrollable. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    private QmpClient() {}

    /**
     * Runs {@code command} and returns its reply. For "quit" QEMU may close the socket before
     * replying; that counts as success.
     */
    static JsonObject execute(Path socket, String command) throws IOException {
        return execute(socket, command, TIMEOUT);
    }

    /** As above, failing when QEMU has not finished answering within {@code limit}. */
    static JsonObject execute(Path socket, String command, Duration limit) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
             ChannelDeadline deadline = new ChannelDeadline(ch, limit)) {
            try {
                return converse(ch, socket, command);
            } catch (IOException e) {
                if (deadline.expired()) throw new IOException("QMP on " + socket + " did not answer " + command + " within " + limit.toSeconds() + " s", e);
                throw e;
            }
        }
    }

    private static JsonObject converse(SocketChannel ch, Path socket, String command) throws IOException {
        ch.connect(UnixDomainSocketAddress.of(socket));
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        OutputStream out = Channels.newOutputStream(ch);
        JsonObject greeting = readReply(in, true);
        if (greeting == null || !greeting.containsKey("QMP")) throw new IOException("no QMP greeting on " + socket);
        send(out, "qmp_capabilities");
        requireOk(readReply(in, false), "qmp_capabilities");
        send(out, command);
        JsonObject reply = readReply(in, false);
        if (reply == null) {
            if ("quit".equals(command)) return new JsonObject();
            throw new IOException("QMP connection closed before the reply to " + command);
        }
        requireOk(reply, command);
        return reply;
    }

    private static void send(OutputStream out, String command) throws IOException {
        out.write((new JsonObject().put("execute", command).encode() + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Next reply (or greeting), skipping asynchronous events; null at end of stream. */
    private static JsonObject readReply(BufferedReader in, boolean greeting) throws IOException {
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            JsonObject msg = new JsonObject(line);
            if (msg.containsKey("event")) continue;
            if (greeting || msg.containsKey("return") || msg.containsKey("error")) return msg;
        }
        return null;
    }

    private static void requireOk(JsonObject reply, String command) throws IOException {
        if (reply == null) throw new IOException("QMP closed during " + command);
        if (reply.containsKey("error")) throw new IOException("QMP " + command + " failed: " + reply.getJsonObject("error").encode());
    }
}
