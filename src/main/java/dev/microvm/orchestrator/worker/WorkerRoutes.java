package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.HostEnvironments;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.RepoSecrets;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import dev.microvm.orchestrator.secrets.Credential;
import dev.microvm.orchestrator.task.TaskIds;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * The adapter between the event bus and the typed operations: each {@code WORKER_*} address (its
 * JSON shapes are documented in {@link Addresses}) maps to the executor it runs on and to a call
 * of one typed operation.
 */
public final class WorkerRoutes {

    /** Which bounded executor runs an operation, so a short one never waits behind a long one. */
    public enum Purpose {
        /** Hypervisor processes: start (boot included), await, stop, recover. */
        VM,
        /** JGit and workspace trees: prepare (and the intake's environment check), collect, merge, diff, cleanup. */
        GIT,
        /** Task records, events, owner locks; run one after another per task, in the order sent. */
        IO
    }

    /** One address: where it runs and what it does with the request body. */
    public record Route(Purpose purpose, Function<JsonObject, JsonObject> operation) {}

    private WorkerRoutes() {}

    /** The operations of a node, built on its state directory, store, event sink and driver. */
    public static Map<String, Route> forNode(StatePaths paths, OrchestratorConfig config, TaskStore store, EventSink events,
                                             HypervisorDriver driver, TaskOwnership ownership, UnaryOperator<String> redactor,
                                             Supplier<Optional<Credential>> credentials) {
        VmSpecs specs = new VmSpecs(paths, config, driver);
        DriverVmOperations vms = new DriverVmOperations(paths, config, store, driver, specs);
        WarmSlots warm = new WarmSlots(paths, (long) config.slotDiskGiB() << 30, java.time.Clock.systemUTC());
        return of(new DiskRecordOperations(store, events, ownership, redactor, vms::forget),
                new GitWorkspaceOperations(paths, config, store, driver, specs, credentials,
                        new TaskEnvironments(new HostEnvironments(paths), new RepoSecrets(paths), store, specs::guestImage), warm),
                vms, new GitResultOperations(paths, config, store, redactor, warm), config.stopGraceSeconds());
    }

    public static Map<String, Route> of(RecordOperations records, WorkspaceOperations workspaces, VmOperations vms,
                                        ResultOperations results, int defaultGraceSeconds) {
        return Map.ofEntries(
                Map.entry(Addresses.WORKER_PERSIST, new Route(Purpose.IO, b -> {
                    JsonObject rec = b.getJsonObject("record");
                    JsonObject ev = b.getJsonObject("event");
                    var seq = records.persist(rec == null ? null : TaskRecord.fromJson(rec),
                            ev == null ? null : new RecordOperations.Event(ev.getString("type"), ev.getString("task_id"), ev.getJsonObject("data")),
                            b.getLong("accept_before"));
                    return seq.isPresent() ? new JsonObject().put("seq", seq.getAsLong()) : new JsonObject();
                })),
                Map.entry(Addresses.WORKER_OWN, new Route(Purpose.IO, b -> new JsonObject().put("owned", records.own(id(b))))),
                Map.entry(Addresses.WORKER_DISOWN, new Route(Purpose.IO, b -> {
                    records.disown(id(b));
                    return new JsonObject();
                })),
                Map.entry(Addresses.WORKER_PREPARE, new Route(Purpose.GIT, b -> {
                    JsonObject proxy = b.getJsonObject("proxy");
                    JsonObject egress = b.getJsonObject("egress");
                    return new JsonObject().put("prepared", workspaces.prepare(id(b),
                            Optional.ofNullable(proxy).map(p -> new WorkspaceOperations.ProxyRoute(p.getInteger("port", 0), p.getString("token"))),
                            egress == null ? 0 : egress.getInteger("port", 0)));
                })),
                Map.entry(Addresses.WORKER_ENVIRONMENT, new Route(Purpose.GIT,
                        b -> workspaces.checkEnvironment(TaskRecord.fromJson(b.getJsonObject("record"))))),
                Map.entry(Addresses.WORKER_VM_START, new Route(Purpose.VM, b -> new JsonObject().put("pid", vms.start(id(b))))),
                Map.entry(Addresses.WORKER_VM_AWAIT, new Route(Purpose.VM,
                        b -> vms.await(id(b), b.getLong("millis", 1000L), b.getLong("log_offset", 0L)))),
                Map.entry(Addresses.WORKER_VM_STOP, new Route(Purpose.VM, b -> new JsonObject().put("exit", DriverVmOperations.exitJson(
                        vms.stop(id(b), Duration.ofSeconds(b.getInteger("grace_seconds", defaultGraceSeconds))))))),
                Map.entry(Addresses.WORKER_VM_RECOVER, new Route(Purpose.VM, b -> {
                    VmOperations.Recovery r = vms.recover(id(b));
                    JsonObject reply = new JsonObject().put("status", r.status()).put("detail", r.detail());
                    if (r.proxy() != null) reply.put("proxy", new JsonObject().put("token", r.proxy().token()).put("port", r.proxy().port()));
                    return reply;
                })),
                Map.entry(Addresses.WORKER_COLLECT, new Route(Purpose.GIT, b -> results.collect(id(b)))),
                Map.entry(Addresses.WORKER_MERGE, new Route(Purpose.GIT, b -> results.merge(id(b), b.getString("strategy", "auto")))),
                Map.entry(Addresses.WORKER_DIFF, new Route(Purpose.GIT,
                        b -> results.diff(id(b), b.getLong("offset", 0L), b.getInteger("limit", 64 * 1024)))),
                Map.entry(Addresses.WORKER_CLEANUP, new Route(Purpose.GIT, b -> results.cleanup(id(b), b.getBoolean("delete_ref", false)))));
    }

    /** The task an io request belongs to (its record's, its event's or its own task_id); "" when none. */
    static String taskOf(JsonObject body) {
        JsonObject rec = body.getJsonObject("record");
        if (rec != null && rec.getString("task_id") != null) return rec.getString("task_id");
        JsonObject ev = body.getJsonObject("event");
        if (ev != null && ev.getString("task_id") != null) return ev.getString("task_id");
        return body.getString("task_id", "");
    }

    private static String id(JsonObject b) {
        return TaskIds.require(b.getString("task_id"));
    }
}
