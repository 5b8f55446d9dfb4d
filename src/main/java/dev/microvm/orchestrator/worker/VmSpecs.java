package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.task.FailureReason;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.vm.Drivers;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.HypervisorDriver;
import dev.microvm.orchestrator.vm.SlotDisk;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Turns a task record into the {@link VmSpec} its VM boots with: image, disks, shares, network. */
record VmSpecs(StatePaths paths, OrchestratorConfig config, HypervisorDriver driver) {

    /** The agent a task runs when it names no agent_command. */
    static final String DEFAULT_AGENT = "claude";

    /** The spec of a prepared task, with the network its record settled. */
    VmSpec specFor(TaskRecord r) throws IOException {
        JsonObject prepared = r.prepared() == null ? new JsonObject() : r.prepared();
        return specFor(r, network(r, prepared.getInteger("proxy_port", 0), prepared.getInteger("egress_port", 0)));
    }

    VmSpec specFor(TaskRecord r, VmSpec.Network network) throws IOException {
        JsonObject prepared = r.prepared() == null ? new JsonObject() : r.prepared();
        int cpus = r.options().cpus() != null ? r.options().cpus() : config.vmCpus();
        int mem = r.options().memoryMiB() != null ? r.options().memoryMiB() : config.vmMemoryMiB();
        Optional<GuestImage> image = guestImage();
        VmSpec.Boot boot = image.map(i -> i.boot(null))
                .orElseGet(() -> new VmSpec.Boot(config.guestDir().resolve("no-kernel"), null, "")); // the process driver boots nothing
        List<VmSpec.Share> shares = new ArrayList<>();
        shares.add(new VmSpec.Share(paths.taskWorkspace(r.id()), GuestContract.TAG_WORKSPACE, false));
        shares.add(new VmSpec.Share(paths.taskIo(r.id()), GuestContract.TAG_IO, false));
        String objects = prepared.getString("shared_objects_dir");
        if (objects != null) shares.add(new VmSpec.Share(Path.of(objects), GuestContract.TAG_OBJECTS, true));
        List<VmSpec.Disk> disks = new ArrayList<>(image.map(GuestImage::vmDisks).orElse(List.of()));
        disks.add(new VmSpec.Disk(slotDisk(r.slot()), false, GuestContract.DISK_SLOT));
        // the cache image of this task's repository on this slot (made at prepare), never another repository's
        String cache = prepared.getString("cache_image");
        if (cache != null) disks.add(new VmSpec.Disk(Path.of(cache), false, GuestContract.DISK_CACHE));
        Path control = AtomicFiles.privateDirectory(paths.runDir().resolve(r.id()));
        return new VmSpec("mvo-" + r.id(), cpus, mem, boot, disks, shares, network, paths.taskConsoleLog(r.id()),
                control, Map.of("task_id", r.id(), "slot", String.valueOf(r.slot())));
    }

    /** The configured image, read through its manifest; empty for the host-process driver. */
    Optional<GuestImage> guestImage() {
        try {
            return Drivers.image(config, driver);
        } catch (GuestImage.InvalidImage e) {
            throw new WorkerFailure(FailureReason.INVALID_IMAGE, e.getMessage(), e);
        }
    }

    VmSpec.Network network(TaskRecord r, int proxyPort, int egressPort) {
        String policy = r.options().network() != null ? r.options().network() : config.defaultNetwork();
        return switch (policy) {
            case "none" -> VmSpec.Network.none();
            case "allowlist" -> {
                if (egressPort <= 0) {
                    throw new WorkerFailure(FailureReason.NETWORK_UNAVAILABLE, "network allowlist needs the egress proxy, and none is running in this "
                            + "orchestrator process; the task is not started with a weaker network");
                }
                yield new VmSpec.Network(VmSpec.Network.Mode.ALLOWLIST, proxyPort, egressPort);
            }
            case "api-only" -> proxyPort > 0 ? new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, proxyPort) : VmSpec.Network.none();
            default -> proxyPort > 0 ? new VmSpec.Network(VmSpec.Network.Mode.NAT, proxyPort) : VmSpec.Network.nat();
        };
    }

    private Path slotDisk(Integer slot) throws IOException {
        if (slot == null) throw new WorkerFailure(FailureReason.SLOT_UNAVAILABLE, "the task has no slot");
        Path disk = paths.slotDir(slot).resolve("disk.img");
        SlotDisk.ensure(disk, (long) config.slotDiskGiB() << 30);
        return disk;
    }
}
