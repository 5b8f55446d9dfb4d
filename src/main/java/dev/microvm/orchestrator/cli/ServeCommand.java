package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.ClusterConfig;
import dev.microvm.orchestrator.cluster.ClusterServices;
import dev.microvm.orchestrator.cluster.DaemonChannelVerticle;
import dev.microvm.orchestrator.cluster.DaemonEndpoint;
import dev.microvm.orchestrator.cluster.DaemonIdleExit;
import dev.microvm.orchestrator.util.HostLock;
import dev.microvm.orchestrator.node.Node;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

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

    @Option(names = "--cluster", paramLabel = "FILE",
            description = "Join the cluster described in FILE (default: cluster.json in the state directory, when present).")
    Path clusterFile;

    /** Kept reachable for the life of the process: an unreachable channel may be closed, releasing the lock. */
    private static java.nio.channels.FileChannel serveLock;

    @Option(names = "--auto-exit", hidden = true,
            description = "Started by an MCP process to finish its tasks: end after daemon_idle_exit_seconds with no task and no client.")
    boolean autoExit;

    @Override
    public Integer call() throws Exception {
        var running = DaemonEndpoint.find(state.paths());
        // held for the daemon's lifetime: two MCP processes ending at once start one daemon, not two
        serveLock = HostLock.tryHold(DaemonEndpoint.directory(state.paths()).resolve("serve.lock"));
        if (running.isPresent() || serveLock == null) {
            throw new IllegalStateException("a daemon" + running.map(r -> " (pid " + r.pid() + ")").orElse("") + " already serves "
                    + state.paths().root() + "; stop it first or use another --state-dir");
        }
        Path clusterJson = clusterFile != null ? clusterFile : state.paths().root().resolve("cluster.json");
        ClusterConfig cluster = clusterFile != null || Files.isRegularFile(clusterJson) ? ClusterConfig.load(clusterJson) : null;
        NodeBootstrap.Started started = NodeBootstrap.start(state.paths(), new JsonObject(), true, cluster);
        Node node = started.node();
        if (started.cluster() != null) {
            NodeBootstrap.await(ClusterServices.deploy(node, started.cluster()));
            System.err.println("joined cluster " + cluster.clusterName() + " as " + cluster.nodeName() + "; members now: "
                    + started.cluster().membership().members());
        }
        DaemonChannelVerticle channel = new DaemonChannelVerticle(node.paths(), node.nodeId());
        NodeBootstrap.await(node.vertx().deployVerticle(channel));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> DaemonEndpoint.find(node.paths())
                .filter(e -> e.pid() == ProcessHandle.current().pid())
                .ifPresent(e -> e.withdraw(node.paths())), "daemon-endpoint-withdraw"));
        if (autoExit) {
            java.time.Duration idle = java.time.Duration.ofSeconds(node.config().daemonIdleExitSeconds());
            NodeBootstrap.await(node.vertx().deployVerticle(new DaemonIdleExit(node.paths().root(), idle,
                    () -> Thread.ofPlatform().start(() -> System.exit(0)))));
        }
        System.err.println("microvm-orchestrator node " + node.nodeId() + " (pid " + ProcessHandle.current().pid() + ") serving from "
                + node.paths().root() + "; MCP processes attach on 127.0.0.1:" + channel.port()
                + (autoExit ? "; started for a client, ends after " + node.config().daemonIdleExitSeconds() + " s with no task and no client" : ""));
        new CountDownLatch(1).await();
        return 0;
    }
}
