package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonObject;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * A node's driver as last checked: the hypervisor and its version, the accelerator in use, the
 * driver's capabilities, and whether it is healthy — it can boot a guest: the hypervisor runs, its
 * accelerator opens and the configured guest image's manifest loads. A node whose driver is not
 * healthy takes no new task ({@link #refusal}).
 *
 * @param detail  what was checked when healthy, else every problem found
 * @param details further facts (the driver's own, and the guest image)
 */
public record DriverFingerprint(String driver, String hypervisor, String version, String accelerator,
                                DriverCapabilities capabilities, boolean healthy, String detail, Instant checkedAt,
                                Map<String, String> details) {

    public DriverFingerprint {
        details = Map.copyOf(details);
    }

    /**
     * Checks {@code driver} now. Blocking (it may start the hypervisor for a moment): worker threads only.
     *
     * @param guestImage loads the configured guest image (throwing when it cannot) and describes it,
     *                   or returns null when the driver boots no image
     */
    public static DriverFingerprint check(HypervisorDriver driver, Callable<String> guestImage, Clock clock) {
        DriverProbe probe;
        try {
            probe = driver.probe();
        } catch (RuntimeException e) {
            probe = DriverProbe.failed(driver.name(), null, "unknown", "the driver's check failed: " + e.getMessage(), Map.of());
        }
        List<String> problems = new ArrayList<>();
        probe.problemIfAny().ifPresent(problems::add);
        Map<String, String> details = new TreeMap<>(probe.details());
        try {
            String image = guestImage.call();
            if (image != null) details.put("guest_image", image);
        } catch (Exception e) {
            problems.add("guest image: " + e.getMessage());
        }
        String detail = problems.isEmpty()
                ? probe.hypervisor() + (probe.version() == null ? "" : " " + probe.version()) + " runs guests with " + probe.accelerator()
                + (details.containsKey("guest_image") ? "; guest image " + details.get("guest_image") : "")
                : String.join("; ", problems);
        return new DriverFingerprint(driver.name(), probe.hypervisor(), probe.version(), probe.accelerator(), driver.capabilities(),
                problems.isEmpty(), detail, clock.instant(), details);
    }

    /** Why this node takes no new task, or empty when it does. */
    public Optional<String> refusal() {
        if (healthy) return Optional.empty();
        return Optional.of("this node's " + driver + " driver cannot boot a guest: " + detail
                + " (checked " + checkedAt + "; it is checked again every minute)");
    }

    public JsonObject toJson() {
        return new JsonObject().put("driver", driver).put("hypervisor", hypervisor).put("version", version)
                .put("accelerator", accelerator).put("healthy", healthy).put("detail", detail)
                .put("checked_at", checkedAt.toString()).put("capabilities", capabilities.toJson())
                .put("details", new JsonObject(new TreeMap<String, Object>(details)));
    }
}
