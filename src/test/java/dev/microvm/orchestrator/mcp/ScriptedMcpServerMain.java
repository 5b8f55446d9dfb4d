package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import io.vertx.core.Vertx;

import java.nio.file.Path;
import java.time.Clock;

/**
 * Test-only stdio MCP server: the real {@link McpStdioLauncher} with a {@link ScriptedNode}
 * answering on the event bus. Usage: {@code ScriptedMcpServerMain STATE_DIR}.
 */
public final class ScriptedMcpServerMain {

    public static void main(String[] args) {
        if (System.getenv("MCP_NO_PREWARM") == null) McpStdioLauncher.prewarm();
        StatePaths paths = new StatePaths(Path.of(args[0]));
        McpSettings settings = McpSettings.claimStdio(paths, System.getenv(), "test");
        Vertx vertx = Vertx.vertx();
        ScriptedNode node = new ScriptedNode(vertx, new EventLog(paths.eventLog(), Clock.systemUTC()));
        node.register()
                .compose(v -> McpStdioLauncher.run(vertx, settings))
                .onComplete(done -> {
                    if (done.failed()) done.cause().printStackTrace();
                    vertx.close().onComplete(x -> System.exit(done.succeeded() ? 0 : 1));
                });
    }
}
