package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskFailure;
import dev.microvm.orchestrator.worker.WorkerRoutes.Purpose;
import dev.microvm.orchestrator.worker.WorkerRoutes.Route;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The one entrance for blocking work (hypervisor processes, JGit, disk). Deployed once, as a
 * standard verticle: its consumers never block the event loop, they hand each request to a bounded
 * executor chosen by the operation's {@link Purpose}, so a long boot or a large import never delays
 * another task's bookkeeping. Io requests of one task (records, events, ownership) run one after
 * another in the order they arrived; different tasks' requests proceed independently.
 */
public final class WorkerPoolVerticle extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(WorkerPoolVerticle.class);

    /** Threads per executor, and how long one operation may run before Vert.x reports a blocked thread. */
    public record PoolSizes(int vm, int git, int io) {
        /** A running task holds one await (and at times a stop) on the vm executor; boots and recoveries come on top. */
        public static PoolSizes forSlots(int slots) {
            return new PoolSizes(2 * slots + 2, slots + 2, Math.max(2, slots));
        }
    }

    private static final Map<Purpose, Long> MAX_EXECUTE_SECONDS = Map.of(Purpose.VM, 3600L, Purpose.GIT, 3600L, Purpose.IO, 60L);

    private final Map<String, Route> routes;
    private final PoolSizes sizes;
    private final Map<Purpose, WorkerExecutor> executors = new EnumMap<>(Purpose.class);
    /** The last io request queued for each task; touched on this verticle's event loop only. */
    private final Map<String, Future<JsonObject>> ioTails = new HashMap<>();

    public WorkerPoolVerticle(Map<String, Route> routes, PoolSizes sizes) {
        this.routes = Map.copyOf(routes);
        this.sizes = sizes;
    }

    @Override
    public Future<?> start() {
        executors.put(Purpose.VM, executor("mvo-vm", sizes.vm(), Purpose.VM));
        executors.put(Purpose.GIT, executor("mvo-git", sizes.git(), Purpose.GIT));
        executors.put(Purpose.IO, executor("mvo-io", sizes.io(), Purpose.IO));
        return Future.all(routes.entrySet().stream()
                .map(e -> vertx.eventBus().<JsonObject>localConsumer(e.getKey(), msg -> dispatch(e.getKey(), e.getValue(), msg)).completion())
                .toList());
    }

    private WorkerExecutor executor(String name, int size, Purpose purpose) {
        return vertx.createSharedWorkerExecutor(name, size, MAX_EXECUTE_SECONDS.get(purpose), TimeUnit.SECONDS);
    }

    /**
     * Io requests already taken run to their end before the executors go: a record and its event
     * land together even when the process is shutting down (an exiting MCP process hands its tasks
     * to the daemon right after).
     */
    @Override
    public Future<?> stop() {
        return Future.join(java.util.List.copyOf(ioTails.values()))
                .transform(x -> Future.all(executors.values().stream().map(WorkerExecutor::close).toList()));
    }

    private void dispatch(String address, Route route, Message<JsonObject> msg) {
        Future<JsonObject> result = route.purpose() == Purpose.IO ? afterPreviousOfTask(taskOf(msg.body()), route, msg) : run(route, msg);
        result.onComplete(ar -> {
            if (ar.succeeded()) msg.reply(ar.result() == null ? new JsonObject() : ar.result());
            else replyFailure(msg, address, ar.cause());
        });
    }

    /** Chains the request behind the task's previous io request, whatever that one's outcome. */
    private Future<JsonObject> afterPreviousOfTask(String taskId, Route route, Message<JsonObject> msg) {
        Future<JsonObject> previous = ioTails.get(taskId);
        Future<JsonObject> next = previous == null ? run(route, msg) : previous.transform(x -> run(route, msg));
        ioTails.put(taskId, next);
        next.onComplete(x -> ioTails.remove(taskId, next));
        return next;
    }

    private Future<JsonObject> run(Route route, Message<JsonObject> msg) {
        return executors.get(route.purpose()).executeBlocking(() -> route.operation().apply(msg.body()), false);
    }

    private static String taskOf(JsonObject body) {
        try {
            return WorkerRoutes.taskOf(body);
        } catch (RuntimeException malformed) {
            return ""; // the operation itself refuses the request
        }
    }

    /** How a failed operation reaches its caller: its {@link FailureReason} as the failure code, the message as text. */
    private static void replyFailure(Message<JsonObject> msg, String address, Throwable t) {
        if (t instanceof WorkerFailure f) {
            LOG.warn("{} failed: [{}] {}", address, f.reason(), f.getMessage());
            TaskFailure.reply(msg, f.reason(), f.getMessage());
        } else if (t instanceof IllegalArgumentException e) {
            TaskFailure.reply(msg, FailureReason.INVALID_REQUEST, e.getMessage());
        } else {
            LOG.error("{} failed", address, t);
            TaskFailure.reply(msg, FailureReason.INTERNAL_ERROR, t.toString());
        }
    }
}
