package dev.microvm.orchestrator.cluster;

import java.util.List;
import java.util.function.Consumer;

/** Who is in the cluster now, and news of members joining or leaving (called on any thread). */
public interface Members {

    List<String> members();

    void onLeft(Consumer<String> listener);

    void onJoined(Consumer<String> listener);
}
