package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.node.Node;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", description = "Run a long-lived orchestrator node (slots, tasks, event stream).")
final class ServeCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() throws Exception {
        Node node = NodeBootstrap.start(state.paths(), new JsonObject(), true).node();
        System.err.println("microvm-orchestrator node " + node.nodeId() + " serving from " + node.paths().root());
        new CountDownLatch(1).await();
        return 0;
    }
}
