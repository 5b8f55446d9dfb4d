package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Node;
import io.vertx.core.Future;

/**
 * The cluster's verticles on a node that joined a cluster. The node itself is started with a
 * {@link ClusterPlacement} (see {@link #placement}); these verticles answer it.
 */
public final class ClusterServices {

    private ClusterServices() {}

    /** The task placement of a node that runs in {@code cluster} as {@code nodeId}. */
    public static ClusterPlacement placement(ClusterVertx.Started cluster, String nodeId) {
        return new ClusterPlacement(cluster.vertx(), nodeId);
    }

    public static Future<Void> deploy(Node node, ClusterVertx.Started cluster) {
        var vertx = node.vertx();
        String self = node.nodeId();
        long maxBundle = node.config().maxBundleBytes();
        return vertx.deployVerticle(new ClusterNodeVerticle(self, cluster.membership()))
                .compose(v -> vertx.deployVerticle(new RemoteExecutionVerticle(self, cluster.membership(), node.repos(), node.paths().root(), maxBundle)))
                .compose(v -> vertx.deployVerticle(new RemoteTasksVerticle(self, cluster.membership(), node.store(), node.paths().root(), maxBundle,
                        node.config().defaultMergeStrategy())))
                .mapEmpty();
    }
}
