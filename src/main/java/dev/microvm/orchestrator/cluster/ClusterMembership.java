package dev.microvm.orchestrator.cluster;

import org.infinispan.manager.EmbeddedCacheManager;
import org.infinispan.notifications.Listener;
import org.infinispan.notifications.cachemanagerlistener.annotation.Merged;
import org.infinispan.notifications.cachemanagerlistener.annotation.ViewChanged;
import org.infinispan.notifications.cachemanagerlistener.event.MergeEvent;
import org.infinispan.notifications.cachemanagerlistener.event.ViewChangedEvent;
import org.infinispan.remoting.transport.Address;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Who is in the cluster right now, by member name (the certificate CN), and a callback when a
 * member leaves or is removed after failing. Infinispan's own view listener is used so the one
 * node-listener slot of the Vert.x cluster manager stays free.
 */
public final class ClusterMembership implements Members {

    private final EmbeddedCacheManager cacheManager;
    private final List<Consumer<String>> onLeft = new CopyOnWriteArrayList<>();
    private final List<Consumer<String>> onJoined = new CopyOnWriteArrayList<>();

    ClusterMembership(EmbeddedCacheManager cacheManager) {
        this.cacheManager = cacheManager;
        cacheManager.addListener(new ViewListener());
    }

    @Override
    public List<String> members() {
        List<Address> m = cacheManager.getMembers();
        return m == null ? List.of() : m.stream().map(ClusterMembership::name).toList();
    }

    /** Called from an Infinispan thread; hop to an event loop before touching verticle state. */
    @Override
    public void onLeft(Consumer<String> listener) {
        onLeft.add(listener);
    }

    @Override
    public void onJoined(Consumer<String> listener) {
        onJoined.add(listener);
    }

    static String name(Address a) {
        return a == null ? null : a.toString();
    }

    /**
     * A host that restarts may first form a cluster of its own (its join found no coordinator in
     * time) and is then merged in: that view arrives as a merge, not as a plain view change.
     */
    @Listener(sync = false)
    public final class ViewListener {
        @Merged
        public void merged(MergeEvent e) {
            viewChanged(e);
        }

        @ViewChanged
        public void viewChanged(ViewChangedEvent e) {
            Set<String> before = new HashSet<>(e.getOldMembers().stream().map(ClusterMembership::name).toList());
            Set<String> after = new HashSet<>(e.getNewMembers().stream().map(ClusterMembership::name).toList());
            for (String gone : before) if (!after.contains(gone)) onLeft.forEach(l -> l.accept(gone));
            for (String come : after) if (!before.contains(come)) onJoined.forEach(l -> l.accept(come));
        }
    }
}
