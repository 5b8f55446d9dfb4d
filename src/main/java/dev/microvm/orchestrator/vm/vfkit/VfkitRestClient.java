package dev.microvm.orchestrator.vm.vfkit;

import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.time.Duration;

import dev.microvm.orchestrator.vm.ChannelDeadline;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** vfkit's REST API over its unix socket: GET/POST /vm/state. One request per connection. */
final class VfkitRestClient {
    record Response(int status, String body) {
        JsonObject json() {
            return body.isBlank() ? new JsonObject() : new JsonObject(body);
        }
    }

    /** A vfkit whose REST server does not answer within this is treated as uncontrollable. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final Path socket;
    private final Duration timeout;

    VfkitRestClient(Path socket) {
        this(socket, TIMEOUT);
    }

    VfkitRestClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /** The VM state, e.g. "VirtualMachineStateRunning". */
    String state() throws IOException {
        Response r = request("GET", "/vm/state", null);
        if (r.status() != 200) throw new IOException("GET /vm/state answered " + r.status() + ": " + r.body());
        return r.json().getString("state", "");
    }

    /**
     * Asks for a state change ("Stop", "HardStop"). vfkit answers 202; after HardStop the VM
     * (and with it the connection) may be gone before the reply, which counts as accepted.
     */
    void changeState(String state) throws IOException {
        Response r;
        try {
            r = request("POST", "/vm/state", new JsonObject().put("state", state).encode());
        } catch (IOException e) {
            if ("HardStop".equals(state)) return;
            throw e;
        }
        if (r == null && "HardStop".equals(state)) return;
        if (r == null) throw new IOException("vfkit closed the connection before answering " + state);
        if (r.status() != 202) throw new IOException("POST /vm/state " + state + " answered " + r.status() + ": " + r.body());
    }

    /** Null when the server closed the connection without a status line. */
    Response request(String method, String path, String body) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
             ChannelDeadline deadline = new ChannelDeadline(ch, timeout)) {
            try {
                return exchange(ch, method, path, body);
            } catch (IOException e) {
                if (deadline.expired()) throw new IOException("vfkit on " + socket + " did not answer " + method + " " + path + " within " + timeout.toSeconds() + " s", e);
                throw e;
            }
        }
    }

    private Response exchange(SocketChannel ch, String method, String path, String body) throws IOException {
        ch.connect(UnixDomainSocketAddress.of(socket));
        OutputStream out = Channels.newOutputStream(ch);
        byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder()
                .append(method).append(' ').append(path).append(" HTTP/1.1\r\n")
                .append("Host: vfkit\r\nConnection: close\r\n");
        if (body != null) head.append("Content-Type: application/json\r\nContent-Length: ").append(payload.length).append("\r\n");
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(payload);
        out.flush();
        return parse(readAll(Channels.newInputStream(ch)));
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        int n;
        try {
            while ((n = in.read(chunk)) > 0) {
                buf.write(chunk, 0, n);
                if (buf.size() > 1 << 20) throw new IOException("vfkit reply larger than 1 MiB");
            }
        } catch (IOException e) {
            if (buf.size() == 0) throw e; // reset before anything arrived
        }
        return buf.toByteArray();
    }

    static Response parse(byte[] raw) throws IOException {
        if (raw.length == 0) return null;
        String text = new String(raw, StandardCharsets.UTF_8);
        int headEnd = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.") || headEnd < 0) throw new IOException("not an HTTP reply from vfkit: " + text.lines().findFirst().orElse(""));
        String[] statusLine = text.substring(0, text.indexOf("\r\n")).split(" ", 3);
        int status = Integer.parseInt(statusLine[1]);
        String headers = text.substring(0, headEnd).toLowerCase();
        String body = text.substring(headEnd + 4);
        if (headers.contains("transfer-encoding: chunked")) body = dechunk(body);
        return new Response(status, body);
    }

    private static String dechunk(String body) {
        StringBuilder out = new StringBuilder();
        int pos = 0;
        while (pos < body.length()) {
            int eol = body.indexOf("\r\n", pos);
            if (eol < 0) break;
            int size = Integer.parseInt(body.substring(pos, eol).split(";")[0].trim(), 16);
            if (size == 0) break;
            out.append(body, eol + 2, Math.min(body.length(), eol + 2 + size));
            pos = eol + 2 + size + 2;
        }
        return out.toString();
    }
}
