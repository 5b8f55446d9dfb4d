package dev.microvm.orchestrator.mcp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The MCP server's stdout, made line-atomic. The SDK's stdio transport writes a message and its
 * newline in separate calls, and this server also writes its own protocol errors (for input lines
 * the SDK never sees); whole lines only reach the real stream, under one lock, so two writers can
 * never interleave inside a message.
 */
final class StdoutLines extends OutputStream {

    private final OutputStream out;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    StdoutLines(OutputStream out) {
        this.out = out;
    }

    @Override
    public synchronized void write(int b) throws IOException {
        pending.write(b);
        if (b == '\n') emitPending();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        int start = off;
        for (int i = off; i < off + len; i++) {
            if (b[i] == '\n') {
                pending.write(b, start, i + 1 - start);
                emitPending();
                start = i + 1;
            }
        }
        pending.write(b, start, off + len - start);
    }

    /** Writes one complete protocol line of our own; a newline is appended. */
    synchronized void writeLine(String json) throws IOException {
        out.write((json + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public synchronized void flush() throws IOException {
        out.flush();
    }

    @Override
    public synchronized void close() throws IOException {
        out.flush();
    }

    private void emitPending() throws IOException {
        pending.writeTo(out);
        pending.reset();
        out.flush();
    }
}
