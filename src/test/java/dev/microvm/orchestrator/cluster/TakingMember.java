package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.nio.file.Path;

/**
 * A cluster member (child JVM) that offers one free slot and accepts every task shipped to it, but
 * never starts one: it prints {@code executing <home task id>} and stays silent, as a host that
 * dies before its queue moves.
 */
public final class TakingMember {
    public static void main(String[] args) throws Exception {
        ClusterConfig config = ClusterConfig.load(Path.of(args[0]));
        ClusterVertx.Started s = ClusterVertx.start(config, new VertxOptions());
        var bus = s.vertx().eventBus();
        String self = config.nodeName();
        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_NODE_INFO, self),
                m -> m.reply(new JsonObject().put("node", self).put("slots", 1).put("busy", 0).put("queued", 0)))
                .completion().toCompletionStage().toCompletableFuture().get();
        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_HAVES, self), m -> m.reply(new JsonObject().put("haves", new JsonArray())))
                .completion().toCompletionStage().toCompletableFuture().get();
        bus.<JsonObject>consumer(Addresses.onNode(Addresses.CLUSTER_EXECUTE, self), m -> {
            System.out.println("executing " + m.body().getString("home_task_id"));
            System.out.flush();
            m.reply(new JsonObject().put("task_id", "held").put("node", self));
        }).completion().toCompletionStage().toCompletableFuture().get();
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
