package dev.microvm.orchestrator.git;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Fails once more than {@code limit} bytes have been read, whatever the file claimed its size was. */
final class CappedInputStream extends FilterInputStream {
    static final class LimitExceeded extends IOException {
        LimitExceeded(long limit) {
            super("more than " + limit + " bytes");
        }
    }

    private final long limit;
    private long count;

    CappedInputStream(InputStream in, long limit) {
        super(in);
        this.limit = limit;
    }

    @Override
    public int read() throws IOException {
        int b = super.read();
        if (b >= 0) {
            account(1);
        }
        return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        int n = super.read(buf, off, len);
        if (n > 0) {
            account(n);
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        long skipped = super.skip(n);
        account(skipped);
        return skipped;
    }

    private void account(long n) throws LimitExceeded {
        count += n;
        if (count > limit) {
            throw new LimitExceeded(limit);
        }
    }
}
