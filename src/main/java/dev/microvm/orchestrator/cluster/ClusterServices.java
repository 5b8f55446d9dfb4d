package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Node;
import io.vertx.core.Future;

/** The cluster's verticles on a node that joined a cluster. */
public final class ClusterServices {

    private ClusterServices() {}

    public static Future<Void> deploy(Node node, ClusterVertx.Started cluster) {
        return node.vertx().deployVerticle(new ClusterNodeVerticle(node.nodeId(), cluster.membership())).mapEmpty();
    }
}
