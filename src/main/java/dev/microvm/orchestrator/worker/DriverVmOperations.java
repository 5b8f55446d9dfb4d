package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.secrets.GuestSecretFiles;
import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.VmHandle;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** {@link VmOperations} through the configured hypervisor driver, with this process's cache of VM handles. */
public final class DriverVmOperations implements VmOperations {

    private static final Logger LOG = LoggerFactory.getLogger(DriverVmOperations.class);

    private final StatePaths paths;
    private final OrchestratorConfig config;
    private final TaskStore store;
    private final HypervisorDriver driver;
    private final VmSpecs specs;
    private final ConsoleTail console;
    private final Map<String, VmHandle> handles = new ConcurrentHashMap<>();

    DriverVmOperations(StatePaths paths, OrchestratorConfig config, TaskStore store, HypervisorDriver driver, VmSpecs specs) {
        this.paths = paths;
        this.config = config;
        this.store = store;
        this.driver = driver;
        this.specs = specs;
        this.console = new ConsoleTail(paths);
    }

    @Override
    public long start(String taskId) {
        TaskRecord r = KnownTasks.load(store, taskId);
        boolean booted = false;
        try {
            VmSpec spec = specs.specFor(r);
            long pid = boot(r, spec).pid();
            booted = true;
            return pid;
        } catch (VmException e) {
            throw WorkerFailure.of(e);
        } catch (IOException e) {
            throw new WorkerFailure(FailureReason.START_FAILED, "cannot record the VM handle: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerFailure(FailureReason.INTERRUPTED, "interrupted while the VM booted");
        } catch (IllegalArgumentException e) {
            throw new WorkerFailure(FailureReason.BOOT_FAILED, e.getMessage(), e);
        } finally {
            if (!booted) GuestSecretFiles.remove(paths.taskIo(r.id())); // no runner will take them
        }
    }

    /** Each handle the driver starts is recorded before the guest is waited for (a retry replaces it). */
    private VmHandle boot(TaskRecord r, VmSpec spec) throws VmException, IOException, InterruptedException {
        return driver.boot(spec, Duration.ofSeconds(config.bootTimeoutSeconds()), handle -> {
            AtomicFiles.write(paths.taskHandle(r.id()), handle.toJson().encodePrettily());
            handles.put(r.id(), handle);
        });
    }

    @Override
    public JsonObject await(String id, long millis, long logOffset) {
        VmHandle handle = handle(id).orElseThrow(() -> new WorkerFailure(FailureReason.VM_LOST, "no VM handle recorded for task " + id));
        JsonObject out = new JsonObject();
        try {
            Optional<HypervisorDriver.VmExit> exit = driver.await(handle, Duration.ofMillis(Math.max(1, Math.min(10_000, millis))));
            out.put("running", exit.isEmpty());
            exit.ifPresent(e -> out.put("exit", exitJson(e)));
        } catch (VmException e) {
            throw WorkerFailure.of(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.put("running", true);
        }
        out.put("cancel_requested", Files.exists(paths.taskDir(id).resolve("cancel")));
        console.read(id, logOffset, out, !out.getBoolean("running"));
        return out;
    }

    @Override
    public HypervisorDriver.VmExit stop(String id, Duration grace) {
        Optional<VmHandle> handle = handle(id);
        if (handle.isEmpty()) {
            driver.findOrphans("mvo-" + id).forEach(driver::destroy);
            return new HypervisorDriver.VmExit(null, false, "no VM was running");
        }
        try {
            return driver.stop(handle.get(), grace);
        } catch (VmException e) {
            throw WorkerFailure.of(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WorkerFailure(FailureReason.INTERRUPTED, "interrupted while stopping the VM");
        }
    }

    @Override
    public Recovery recover(String id) {
        Optional<VmHandle> handle = handle(id);
        if (handle.isEmpty()) {
            // crashed between spawning the hypervisor and recording its handle: never leave it running
            List<VmHandle> orphans = driver.findOrphans("mvo-" + id);
            orphans.forEach(driver::destroy);
            if (orphans.isEmpty()) return new Recovery("never_started", "the VM was never started", null);
            return new Recovery("lost", "the VM started but its handle was never recorded; it was destroyed", null);
        }
        HypervisorDriver.RecoverResult rr = driver.recover(handle.get());
        if (rr.handle() != null) handles.put(id, rr.handle());
        return switch (rr.status()) {
            case RUNNING -> new Recovery("running", rr.detail(), proxyRoute(KnownTasks.load(store, id)).orElse(null));
            case STOPPED -> new Recovery("stopped", rr.detail(), null);
            case LOST -> new Recovery("lost", rr.detail(), null);
        };
    }

    @Override
    public void forget(String id) {
        handles.remove(id);
        console.forget(id);
    }

    static JsonObject exitJson(HypervisorDriver.VmExit e) {
        return new JsonObject().put("code", e.exitCode()).put("forced", e.forced()).put("detail", e.detail());
    }

    /**
     * The placeholder and proxy port a running VM was booted with: the process adopting it registers
     * them with its own API proxy so the agent keeps its route to the API.
     */
    private Optional<WorkspaceOperations.ProxyRoute> proxyRoute(TaskRecord r) {
        int port = r.prepared() == null ? 0 : r.prepared().getInteger("proxy_port", 0);
        Path file = paths.taskProxyToken(r.id());
        if (port <= 0 || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        try {
            return Optional.of(new WorkspaceOperations.ProxyRoute(port, Files.readString(file, StandardCharsets.UTF_8).strip()));
        } catch (IOException e) {
            LOG.warn("cannot read the proxy placeholder of task {}: {}", r.id(), e.getMessage());
            return Optional.empty();
        }
    }

    private Optional<VmHandle> handle(String id) {
        VmHandle h = handles.get(id);
        if (h != null) return Optional.of(h);
        Path file = paths.taskHandle(id);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        try {
            h = VmHandle.fromJson(new JsonObject(Files.readString(file)));
            handles.put(id, h);
            return Optional.of(h);
        } catch (IOException | RuntimeException e) {
            throw new WorkerFailure(FailureReason.VM_LOST, "the VM handle of task " + id + " is unreadable: " + e.getMessage());
        }
    }
}
