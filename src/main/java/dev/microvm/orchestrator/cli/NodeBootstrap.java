package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** Builds Vert.x and an embedded node from the state directory and command-line overrides. */
final class NodeBootstrap {

    private NodeBootstrap() {}

    static Node start(StatePaths paths, JsonObject overrides) throws Exception {
        OrchestratorConfig config = OrchestratorConfig.load(paths);
        if (overrides != null && !overrides.isEmpty()) config = config.merge(overrides, "command line");
        HypervisorDriver driver = Drivers.create(config, paths);
        Vertx vertx = Vertx.vertx(new VertxOptions().setWorkerPoolSize(Math.max(40, config.slots() * 4 + 20))
                .setBlockedThreadCheckInterval(10).setBlockedThreadCheckIntervalUnit(TimeUnit.SECONDS));
        String nodeId = java.net.InetAddress.getLocalHost().getHostName() + "-" + ProcessHandle.current().pid();
        Node.Options options = new Node.Options(config, driver, nodeId, Clock.systemUTC(),
                (record, drv, network) -> Map.of(), UnaryOperator.identity());
        return Node.start(vertx, paths, options).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
}
