package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.events.EventRetention;
import dev.microvm.orchestrator.events.EventRetentionVerticle;
import dev.microvm.orchestrator.slot.SlotAllocatorVerticle;
import dev.microvm.orchestrator.task.TaskManagerVerticle;
import dev.microvm.orchestrator.task.TaskPlacement;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.vm.DriverFingerprint;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.worker.TaskOwnership;
import dev.microvm.orchestrator.worker.WorkerPoolVerticle;
import dev.microvm.orchestrator.worker.WorkerRoutes;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * One orchestrator node: the task manager, the slot allocator and the worker pool deployed on a
 * Vert.x instance, sharing one state directory. The same node runs embedded in the stdio MCP
 * process, in the {@code serve} daemon, or as a cluster member.
 */
public final class Node {

    private static final Logger LOG = LoggerFactory.getLogger(Node.class);

    private final Vertx vertx;
    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final RepoRegistry repos;
    private final EventSink events;
    private final TaskOwnership ownership;
    private final HypervisorDriver driver;
    private final String nodeId;

    private Node(Vertx vertx, StatePaths paths, OrchestratorConfig config, HypervisorDriver driver, String nodeId, Clock clock) {
        this.vertx = vertx;
        this.paths = paths;
        this.config = config;
        this.driver = driver;
        this.nodeId = nodeId;
        this.store = new TaskStore(paths);
        this.repos = new RepoRegistry(paths, clock);
        this.events = new EventSink(vertx, new EventLog(paths.eventLog(), clock));
        this.ownership = new TaskOwnership(paths);
    }

    /** What a node needs besides the state directory. */
    /**
     * @param credentials the real API credential, when one is configured (used only in credential_mode file)
     * @param placement   where new tasks run ({@link TaskPlacement#local()}: all here)
     */
    public record Options(OrchestratorConfig config, HypervisorDriver driver, String nodeId, Clock clock,
                          UnaryOperator<String> redactor,
                          java.util.function.Supplier<java.util.Optional<dev.microvm.orchestrator.secrets.Credential>> credentials,
                          TaskPlacement placement) {
        public Options(OrchestratorConfig config, HypervisorDriver driver, String nodeId, Clock clock, UnaryOperator<String> redactor,
                       java.util.function.Supplier<java.util.Optional<dev.microvm.orchestrator.secrets.Credential>> credentials) {
            this(config, driver, nodeId, clock, redactor, credentials, TaskPlacement.local());
        }

        public Options(OrchestratorConfig config, HypervisorDriver driver, String nodeId, Clock clock, UnaryOperator<String> redactor) {
            this(config, driver, nodeId, clock, redactor, java.util.Optional::empty);
        }

        /** The same options with another placement. */
        public Options withPlacement(TaskPlacement p) {
            return new Options(config, driver, nodeId, clock, redactor, credentials, p);
        }
    }

    public static Future<Node> start(Vertx vertx, StatePaths paths, Options o) {
        Node node = new Node(vertx, paths, o.config(), o.driver(), o.nodeId(), o.clock());
        return node.deploy(o).map(node);
    }

    private Future<Void> deploy(Options o) {
        var routes = WorkerRoutes.forNode(paths, config, store, events, driver, ownership, o.redactor(), o.credentials());
        DriverHealthVerticle health = new DriverHealthVerticle(() -> DriverFingerprint.check(driver,
                () -> Drivers.image(config, driver).map(i -> i.dir().getFileName() + " (" + i.architecture() + ")").orElse(null), o.clock()));
        return vertx.deployVerticle(health)
                .compose(v -> vertx.deployVerticle(new WorkerPoolVerticle(routes, WorkerPoolVerticle.PoolSizes.forSlots(config.slots()))))
                .compose(v -> vertx.deployVerticle(new SlotAllocatorVerticle(paths, config.slots(), this::taskUnfinished, events)))
                .compose(v -> vertx.deployVerticle(new TaskManagerVerticle(paths, config, store, repos, events, o.clock(), nodeId,
                        health::current, o.placement())))
                .compose(v -> vertx.deployVerticle(new EventRetentionVerticle(new EventRetention(events.log(), o.clock(),
                        Duration.ofDays(config.eventRetentionDays()), config.eventRetentionBytes()))))
                .onSuccess(v -> LOG.info("node {} up: {} slots, driver {} ({}), state {}", nodeId, config.slots(), driver.name(),
                        health.current().detail(), paths.root()))
                .mapEmpty();
    }

    private boolean taskUnfinished(String taskId) {
        try {
            return store.load(taskId).map(r -> !r.state().isTerminal()).orElse(false);
        } catch (RuntimeException e) {
            return true; // a damaged record keeps its slot reserved rather than risk sharing storage
        }
    }

    public Vertx vertx() { return vertx; }
    public StatePaths paths() { return paths; }
    public OrchestratorConfig config() { return config; }
    public EventSink events() { return events; }
    public TaskStore store() { return store; }
    public RepoRegistry repos() { return repos; }
    public String nodeId() { return nodeId; }

    /** True while this process holds the owner lock of an unfinished task (it runs that task). */
    public boolean ownsUnfinishedTasks() { return ownership.ownsAny(); }

    /** Stops taking work. Running VMs are left running on purpose: the next process recovers them. */
    public Future<Void> close() {
        return vertx.close().onComplete(v -> ownership.releaseAll());
    }
}
