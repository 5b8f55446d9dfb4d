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
     * Deploys the {@link McpVerticle}; the returned future completes after stdin reached end of
     * input and the verticle was undeployed, or fails if the server could not start.
     */
    public static Future<Void> run(Vertx vertx, McpSettings settings) {
        Promise<Void> inputClosed = Promise.promise();
        return vertx.deployVerticle(new McpVerticle(settings, inputClosed::tryComplete))
                .compose(id -> inputClosed.future().compose(v -> vertx.undeploy(id)));
    }
}
