package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;

/** A cluster member (child JVM) whose node-info address takes requests and never answers. */
public final class SlowMember {
    public static void main(String[] args) throws Exception {
        ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        ClusterVertx.Started s = ClusterVertx.start(config, new VertxOptions());
        s.vertx().eventBus().<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_NODE_INFO, config.nodeName()), m -> { })
                .completion().toCompletionStage().toCompletableFuture().get();
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
