package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.DaemonAttach;
import dev.microvm.orchestrator.cluster.DaemonLauncher;
import dev.microvm.orchestrator.node.Node;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.mcp.GuestFeatures;
import dev.microvm.orchestrator.mcp.McpSettings;
import dev.microvm.orchestrator.mcp.McpStdioLauncher;
import dev.microvm.orchestrator.vm.GuestImage;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The stdio MCP server Claude Code starts ({@code claude mcp add microvm -- microvm-orchestrator mcp}).
 * From here on stdout carries MCP messages only; the process exits when stdin closes. VMs keep
 * running when it exits: the next orchestrator process recovers them. When a {@code serve} daemon
 * runs for the same state directory, this process attaches to it and hosts only the MCP server.
 */
@Command(name = "mcp", description = "Serve MCP over stdio (for Claude Code).")
final class McpCommand implements Callable<Integer> {

    private static final Logger LOG = LoggerFactory.getLogger(McpCommand.class);

    @Mixin StateOptions state;

    @Override
    public Integer call() throws Exception {
        McpStdioLauncher.prewarm();
        McpSettings settings = McpSettings.claimStdio(state.paths(), System.getenv(), versionString()).withGuest(guestFeatures(state.paths()));
        Optional<Vertx> daemon = DaemonAttach.attach(state.paths());
        if (daemon.isPresent()) {
            // a serve daemon owns the node on this host: this process hosts only the MCP server
            try {
                McpStdioLauncher.run(daemon.get(), settings).toCompletionStage().toCompletableFuture().get();
            } finally {
                daemon.get().close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            }
            return 0;
        }
        OrchestratorConfig config = NodeBootstrap.config(state.paths(), null);
        Vertx vertx = NodeBootstrap.createVertx(config, true);
        AtomicReference<Node> node = new AtomicReference<>();
        // SIGINT / SIGTERM (how Claude Code ends a server): hand the tasks over before the JVM goes
        Thread handOverOnSignal = new Thread(() -> handOver(node.get()), "hand-over-to-daemon");
        Runtime.getRuntime().addShutdownHook(handOverOnSignal);
        // The MCP server answers initialize at once; tool calls wait for the node starting beside it.
        var session = McpStdioLauncher.run(vertx, settings);
        try {
            node.set(NodeBootstrap.startOn(vertx, state.paths(), config, true).node());
            session.toCompletionStage().toCompletableFuture().get();
            handOver(node.get()); // end of input
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        return 0;
    }

    /**
     * This process is ending: if it still runs tasks, make sure the host's daemon exists to adopt
     * them once this process has let go of their owner locks (at exit). Quick: it only starts a
     * process. Runs at most once.
     */
    private void handOver(Node node) {
        if (node == null || handedOver.getAndSet(true) || !node.ownsUnfinishedTasks()) return;
        try {
            DaemonLauncher.ensureRunning(state.paths()).ifPresentOrElse(
                    pid -> System.err.println("microvm-orchestrator: unfinished tasks handed to a daemon (pid " + pid + ") started for "
                            + state.paths().root() + "; see README (daemon) to watch or stop it"),
                    () -> System.err.println("microvm-orchestrator: unfinished tasks handed to the running daemon"));
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("microvm-orchestrator: could not start a daemon for the unfinished tasks (" + e.getMessage()
                    + "); the next orchestrator process for " + state.paths().root() + " adopts them");
        }
    }

    /**
     * What the configured default guest image offers (its manifest's features), read before the MCP
     * server is deployed: file I/O, never on an event loop. A daemon this process attaches to runs on
     * the same state directory's configuration. Unknown when the image cannot be read: the tool
     * descriptions then say nothing about containers or nix, and the server starts all the same.
     */
    static GuestFeatures guestFeatures(StatePaths paths) {
        Path dir = null;
        try {
            dir = OrchestratorConfig.load(paths).guestDir();
            return GuestFeatures.of(GuestImage.load(dir).features());
        } catch (RuntimeException e) {
            LOG.info("guest image {} not read ({}); the tool descriptions say nothing about containers or nix", dir, e.getMessage());
            return GuestFeatures.unknown();
        }
    }

    private final java.util.concurrent.atomic.AtomicBoolean handedOver = new java.util.concurrent.atomic.AtomicBoolean();

    private static String versionString() {
        String v = McpCommand.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
