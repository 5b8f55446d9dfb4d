package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.cluster.DaemonAttach;
import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.mcp.McpSettings;
import dev.microvm.orchestrator.mcp.McpStdioLauncher;
import io.vertx.core.Vertx;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The stdio MCP server Claude Code starts ({@code claude mcp add microvm -- microvm-orchestrator mcp}).
 * From here on stdout carries MCP messages only; the process exits when stdin closes. VMs keep
 * running when it exits: the next orchestrator process recovers them. When a {@code serve} daemon
 * runs for the same state directory, this process attaches to it and hosts only the MCP server.
 */
@Command(name = "mcp", description = "Serve MCP over stdio (for Claude Code).")
final class McpCommand implements Callable<Integer> {

    @Mixin StateOptions state;

    @Override
    public Integer call() throws Exception {
        McpStdioLauncher.prewarm();
        McpSettings settings = McpSettings.claimStdio(state.paths(), System.getenv(), versionString());
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
        // The MCP server answers initialize at once; tool calls wait for the node starting beside it.
        var session = McpStdioLauncher.run(vertx, settings);
        try {
            NodeBootstrap.startOn(vertx, state.paths(), config, true);
            session.toCompletionStage().toCompletableFuture().get();
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        return 0;
    }

    private static String versionString() {
        String v = McpCommand.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
