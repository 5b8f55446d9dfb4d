package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;

import java.util.Objects;

/**
 * Opaque, versioned recovery data for one running VM, persisted before the task is reported
 * running. {@code pid} plus {@code processStartTime} identify the hypervisor process even after
 * pid reuse; {@code data} holds driver-specific fields (control socket path, pid file, ...).
 */
public record VmHandle(int version, String driver, String vmName, long pid, String processStartTime, JsonObject data) {

    public static final int CURRENT_VERSION = 1;

    public VmHandle {
        Objects.requireNonNull(driver, "driver");
        Objects.requireNonNull(vmName, "vmName");
        data = data == null ? new JsonObject() : data.copy();
    }

    public JsonObject toJson() {
        return new JsonObject()
                .put("version", version)
                .put("driver", driver)
                .put("vm_name", vmName)
                .put("pid", pid)
                .put("process_start_time", processStartTime)
                .put("data", data.copy());
    }

    public static VmHandle fromJson(JsonObject json) {
        int version = json.getInteger("version", 0);
        if (version != CURRENT_VERSION) {
            throw new IllegalArgumentException("unsupported VM handle version " + version);
        }
        return new VmHandle(version, json.getString("driver"), json.getString("vm_name"),
                json.getLong("pid", -1L), json.getString("process_start_time"), json.getJsonObject("data"));
    }
}
