package dev.microvm.orchestrator.stream;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Frames built during one flush round, so that clients with the same filter, which hold the very
 * same queued events, share one frame text instead of each building its own. Two clients' batches
 * are the same when filter, first and last event and count agree: both queues are the same
 * filtered suffix of one stream.
 */
final class FrameCache {

    private record Key(EventFilter filter, EventSubscriber.Item first, EventSubscriber.Item last, int count) {}

    private final Map<Key, String> frames = new HashMap<>();

    String frame(EventFilter filter, List<EventSubscriber.Item> batch) {
        Key key = new Key(filter, batch.getFirst(), batch.getLast(), batch.size());
        return frames.computeIfAbsent(key, k -> build(batch));
    }

    static String build(List<EventSubscriber.Item> batch) {
        int size = 32;
        for (EventSubscriber.Item i : batch) size += i.json().length() + 1;
        StringBuilder frame = new StringBuilder(size).append("{\"type\":\"events\",\"events\":[");
        for (int n = 0; n < batch.size(); n++) {
            if (n > 0) frame.append(',');
            frame.append(batch.get(n).json());
        }
        return frame.append("]}").toString();
    }
}
