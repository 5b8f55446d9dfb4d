package dev.microvm.orchestrator.mcp;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.node.Addresses;
import io.modelcontextprotocol.json.jackson2.JacksonMcpJsonMapper;
import io.modelcontextprotocol.server.McpAsyncServer;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.transport.StdioServerTransportProvider;
import io.modelcontextprotocol.spec.McpSchema;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.MessageConsumer;

import java.time.Clock;

/**
 * Owns the MCP SDK server on stdio. Tool calls become event-bus requests ({@link McpTools});
 * wait_next_event is served from the event log ({@link EventWaiter}), woken by
 * {@link Addresses#EVENTS} publications.
 */
public final class McpVerticle extends VerticleBase {

    static final String INSTRUCTIONS = """
            Runs coding tasks in isolated microVMs, each on a private copy of a registered git repository.
            run_task starts one and returns its task_id at once; wait_next_event blocks until one of your
            tasks finishes and reports its result and merge result. Finished work is kept under
            refs/tasks/<task_id> and merged back without touching uncommitted changes.
            Register a repository with the shell command: microvm-orchestrator allow PATH""";

    private final McpSettings settings;
    private final Runnable onInputClosed;
    private McpAsyncServer server;
    private EventWaiter waiter;
    private MessageConsumer<Object> events;

    /**
     * @param onInputClosed called once when the client closes stdin (the session is over)
     */
    public McpVerticle(McpSettings settings, Runnable onInputClosed) {
        this.settings = settings;
        this.onInputClosed = onInputClosed;
    }

    @Override
    public Future<?> start() {
        CursorStore cursors = new CursorStore(settings.paths(), Clock.systemUTC());
        TaskStateIndex index = new TaskStateIndex(settings.paths().eventLog());
        BusClient bus = new BusClient(vertx, settings.busTimeout());
        waiter = new EventWaiter(vertx, context, index, cursors, bus, settings.progressInterval(), settings.pollInterval());
        // The caller's cursor must exist before its first task is submitted (see McpTools).
        Future<Void> ready = vertx.executeBlocking(() -> {
            // a known caller resumes where its deliveries stopped, a new one at the end: never the whole log
            long cursor = cursors.read(settings.caller());
            index.startAfter(cursor >= 0 ? cursor : new EventLog(settings.paths().eventLog(), Clock.systemUTC()).lastSequence());
            index.refresh();
            cursors.readOrCreate(settings.caller(), index.lastSeq());
            return null;
        }, false);
        McpTools tools = new McpTools(ToolCatalog.load(settings.guest()), bus, waiter, index, settings, ready);

        events = vertx.eventBus().consumer(Addresses.EVENTS, message -> waiter.wake());

        StdoutLines out = new StdoutLines(settings.out());
        StdinGuard in = new StdinGuard(settings.in(), out, waiter::cancel, onInputClosed);
        var transport = new StdioServerTransportProvider(new JacksonMcpJsonMapper(new ObjectMapper()), in, out);
        server = McpServer.async(transport)
                .serverInfo("microvm-orchestrator", settings.version())
                .instructions(INSTRUCTIONS)
                .capabilities(McpSchema.ServerCapabilities.builder().tools(false).build())
                .tools(tools.specifications())
                // McpTools checks arguments itself, with messages that name the argument and what it must be
                .validateToolInputs(false)
                .build();
        return events.completion();
    }

    @Override
    public Future<?> stop() {
        if (waiter != null) waiter.cancelAll();
        if (server != null) server.close();
        Future<?> unregistered = events == null ? Future.succeededFuture() : events.unregister();
        return unregistered.compose(v -> forgetConnectionCursor());
    }

    /** A connection's cursor can never be used again once the connection is gone; a session's can. */
    private Future<Void> forgetConnectionCursor() {
        if (!settings.caller().startsWith(CallerIdentity.CONNECTION_PREFIX)) return Future.succeededFuture();
        return vertx.executeBlocking(() -> {
            java.nio.file.Files.deleteIfExists(settings.paths().cursorFile(settings.caller()));
            return null;
        }, false);
    }
}
