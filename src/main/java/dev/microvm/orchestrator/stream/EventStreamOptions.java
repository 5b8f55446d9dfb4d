package dev.microvm.orchestrator.stream;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Settings of the HTTP/WebSocket endpoint.
 *
 * @param host               address to bind; loopback unless {@code allowRemote} is set
 * @param port               TCP port; 0 picks a free one (tests)
 * @param allowRemote        the explicit choice to bind a non-loopback address: the dashboard is then
 *                           reachable from the network and protected by the token alone, in clear text
 * @param extraHostNames     further names the Host header may carry (for example a host name used
 *                           together with {@code allowRemote}); localhost, 127.0.0.1 and [::1] are always allowed
 * @param maxQueuedEvents    per-client bound of events waiting to be written; beyond it the client is
 *                           told where to resume and disconnected, so it never slows anyone else
 * @param maxEventsPerFrame  events batched into one WebSocket frame at most
 * @param flushIntervalMs    how long events may wait to be batched before they are written
 */
public record EventStreamOptions(String host, int port, boolean allowRemote, Set<String> extraHostNames,
                                 int maxQueuedEvents, int maxEventsPerFrame, long flushIntervalMs) {

    public EventStreamOptions {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
        if (maxQueuedEvents < 1 || maxEventsPerFrame < 1 || flushIntervalMs < 1) {
            throw new IllegalArgumentException("queue bound, batch size and flush interval must be positive");
        }
        extraHostNames = Set.copyOf(extraHostNames);
    }

    public static EventStreamOptions loopback(int port) {
        return new EventStreamOptions("127.0.0.1", port, false, Set.of(), 4096, 256, 10);
    }

    public EventStreamOptions withQueueBound(int maxQueued) {
        return new EventStreamOptions(host, port, allowRemote, extraHostNames, maxQueued, maxEventsPerFrame, flushIntervalMs);
    }

    public EventStreamOptions withFlushInterval(long ms) {
        return new EventStreamOptions(host, port, allowRemote, extraHostNames, maxQueuedEvents, maxEventsPerFrame, ms);
    }

    /** True when {@link #host} is a loopback address. Resolves names: call off the event loop. */
    public boolean isLoopback() {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** Every name the Host and Origin headers may carry. */
    Set<String> allowedHostNames() {
        Set<String> names = new LinkedHashSet<>(Set.of("localhost", "127.0.0.1", "[::1]"));
        for (String n : extraHostNames) names.add(n.toLowerCase(Locale.ROOT));
        if (allowRemote) names.add(host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host.toLowerCase(Locale.ROOT));
        return names;
    }
}
