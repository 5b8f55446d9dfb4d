package dev.microvm.orchestrator.mcp;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;

/**
 * Entry point of {@code microvm-orchestrator mcp}: serves MCP on the given streams until the
 * client closes its end. Typical use:
 *
 * <pre>
 * McpSettings settings = McpSettings.claimStdio(paths, System.getenv(), version);
 * McpStdioLauncher.run(vertx, settings).onComplete(done -&gt; vertx.close()...exit);
 * </pre>
 */
public final class McpStdioLauncher {

    private McpStdioLauncher() {}

    /**
     * Loads the MCP SDK, its JSON schema validator and the tool catalog on a background thread.
     * Call it first thing in {@code main}, before creating Vert.x: the two class-loading bursts
     * then overlap, and Claude Code's initialize is answered sooner.
     */
    public static void prewarm() {
        Thread warm = new Thread(() -> {
            try {
                ToolCatalog.load();
                io.modelcontextprotocol.json.McpJsonDefaults.getSchemaValidator();
                new io.modelcontextprotocol.json.jackson2.JacksonMcpJsonMapper(new com.fasterxml.jackson.databind.ObjectMapper());
                Class.forName("io.modelcontextprotocol.server.McpAsyncServer");
                Class.forName("io.modelcontextprotocol.server.transport.StdioServerTransportProvider");
            } catch (Throwable ignored) {
                // only a head start: the real start-up reports any problem
            }
        }, "mcp-prewarm");
        warm.setDaemon(true);
        warm.start();
    }

    /**
     * Deploys the {@link McpVerticle}; the returned future completes after stdin reached end of
     * input and the verticle was undeployed, or fails if the server could not start.
     */
    public static Future<Void> run(Vertx vertx, McpSettings settings) {
        Promise<Void> inputClosed = Promise.promise();
        return vertx.deployVerticle(new McpVerticle(settings, inputClosed::tryComplete))
                .compose(id -> inputClosed.future().compose(v -> vertx.undeploy(id)));
    }
}
