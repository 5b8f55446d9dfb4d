package dev.microvm.orchestrator.vm;

import java.io.IOException;
import java.nio.channels.Channel;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Closes a blocking channel when a conversation takes too long, which ends any read or write
 * blocked on it. Unix-domain channels have no read timeout of their own, and a hypervisor's control
 * socket can accept a connection and never answer (a hung process, another client holding QMP).
 */
public final class ChannelDeadline implements AutoCloseable {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "mvo-channel-deadline");
        t.setDaemon(true);
        return t;
    });

    private final AtomicBoolean expired = new AtomicBoolean();
    private final ScheduledFuture<?> task;

    public ChannelDeadline(Channel channel, Duration limit) {
        task = TIMER.schedule(() -> {
            expired.set(true);
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing is all we can do
            }
        }, limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** True once the limit passed and the channel was closed. */
    public boolean expired() {
        return expired.get();
    }

    @Override
    public void close() {
        task.cancel(false);
    }
}
