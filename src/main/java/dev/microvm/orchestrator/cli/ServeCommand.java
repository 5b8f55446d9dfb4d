package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.DaemonChannelVerticle;
import dev.microvm.orchestrator.cluster.DaemonEndpoint;
import dev.microvm.orchestrator.node.Node;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * The long-running node of a host. Besides the node itself it opens the local daemon channel, so
 * every {@code microvm-orchestrator mcp} process started for the same state directory attaches to
 * this daemon instead of running a node of its own.
 */
@Command(name = "serve", description = "Run a long-lived orchestrator node (slots, tasks, event stream); MCP processes attach to it.")
final class ServeCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() throws Exception {
        var running = DaemonEndpoint.find(state.paths());
        if (running.isPresent()) {
            throw new IllegalStateException("a daemon (pid " + running.get().pid() + ") already serves " + state.paths().root()
                    + "; stop it first or use another --state-dir");
        }
        Node node = NodeBootstrap.start(state.paths(), new JsonObject(), true).node();
        DaemonChannelVerticle channel = new DaemonChannelVerticle(node.paths(), node.nodeId());
        NodeBootstrap.await(node.vertx().deployVerticle(channel));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> DaemonEndpoint.find(node.paths())
                .filter(e -> e.pid() == ProcessHandle.current().pid())
                .ifPresent(e -> e.withdraw(node.paths())), "daemon-endpoint-withdraw"));
        System.err.println("microvm-orchestrator node " + node.nodeId() + " serving from " + node.paths().root()
                + "; MCP processes attach on 127.0.0.1:" + channel.port());
        new CountDownLatch(1).await();
        return 0;
    }
}
