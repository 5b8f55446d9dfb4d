package dev.microvm.orchestrator.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Typed, validated node configuration. Defaults fit the host; {@code config.json} in the state
 * directory overrides them (unknown keys are refused so a typo never goes unnoticed).
 *
 * @param slots              VMs that may run at once on this host
 * @param driver             qemu | vfkit (a name; which drivers this build has is vm/Drivers' to say, and the
 *                           node refuses any other before it starts)
 * @param accelerator        auto | kvm | tcg (QEMU)
 * @param guestDir           the guest image directory (its manifest, mvo-image.json, names kernel, initrd and disks)
 * @param bootTimeoutSeconds a guest that has not reached the task runner by then is a boot_timeout
 * @param httpPort           dashboard / API port on {@code httpHost}; 0 disables it
 * @param apiProxyPort       port of the credential proxy on host loopback; 0 picks a free one (a
 *                           VM recovered by a later process needs the same port: set it for daemons)
 * @param credentialMode     proxy (default: the guest gets a placeholder, the real credential stays on
 *                           the host) or file (explicit opt-in: the real credential reaches the guest
 *                           in a 0600 file the runner deletes after reading)
 * @param daemonIdleExitSeconds a daemon an MCP process started (to hand over its tasks) ends after
 *                           this long with no unfinished task and no attached client; a daemon a
 *                           person started with {@code serve} never does
 * @param eventRetentionDays console lines ({@code task.log} events) older than this are compacted
 *                           out of the event log; 0 keeps them forever. State changes and outcomes
 *                           are always kept, and the task's own log files keep every line.
 * @param eventRetentionBytes console lines are compacted out, oldest first, while they take more
 *                           than this many bytes of the event log; 0 sets no limit
 */
public record OrchestratorConfig(
        int slots,
        int vmCpus,
        int vmMemoryMiB,
        String driver,
        String accelerator,
        Path guestDir,
        int taskTimeoutSeconds,
        int bootTimeoutSeconds,
        int stopGraceSeconds,
        String httpHost,
        int httpPort,
        String defaultMergeStrategy,
        String defaultNetwork,
        int slotDiskGiB,
        long maxBundleBytes,
        String apiUpstream,
        int apiProxyPort,
        String credentialMode,
        int daemonIdleExitSeconds,
        int eventRetentionDays,
        long eventRetentionBytes,
        List<String> allowedDomains) {

    private static final Set<String> KEYS = Set.of("slots", "vm_cpus", "vm_memory_mib", "driver", "accelerator",
            "guest_dir", "task_timeout_seconds", "boot_timeout_seconds", "stop_grace_seconds", "http_host", "http_port",
            "default_merge_strategy", "default_network", "slot_disk_gib", "max_bundle_bytes", "api_upstream", "api_proxy_port", "credential_mode",
            "daemon_idle_exit_seconds", "event_retention_days", "event_retention_bytes", "allowed_domains");

    private static final java.util.regex.Pattern DRIVER_NAME = java.util.regex.Pattern.compile("[a-z][a-z0-9-]{0,31}");

    public OrchestratorConfig {
        range("slots", slots, 1, 256);
        range("vm_cpus", vmCpus, 1, 64);
        range("vm_memory_mib", vmMemoryMiB, 256, 262_144);
        if (driver == null || !DRIVER_NAME.matcher(driver).matches()) {
            throw new IllegalArgumentException("driver must be a driver name such as qemu or vfkit, got " + driver);
        }
        oneOf("accelerator", accelerator, Set.of("auto", "kvm", "tcg", "hvf"));
        range("task_timeout_seconds", taskTimeoutSeconds, 1, 7 * 24 * 3600);
        range("boot_timeout_seconds", bootTimeoutSeconds, 1, 3600);
        range("stop_grace_seconds", stopGraceSeconds, 0, 600);
        range("http_port", httpPort, 0, 65535);
        oneOf("default_merge_strategy", defaultMergeStrategy, Set.of("auto", "branch", "none"));
        oneOf("default_network", defaultNetwork, Set.of("full", "allowlist", "api-only", "none"));
        allowedDomains = AllowedDomains.of(allowedDomains == null ? List.of() : allowedDomains, "allowed_domains in config.json").patterns();
        range("slot_disk_gib", slotDiskGiB, 1, 4096);
        if (maxBundleBytes < 1024) throw new IllegalArgumentException("max_bundle_bytes must be at least 1024");
        range("api_proxy_port", apiProxyPort, 0, 65535);
        oneOf("credential_mode", credentialMode, Set.of("proxy", "file"));
        range("daemon_idle_exit_seconds", daemonIdleExitSeconds, 1, 7 * 24 * 3600);
        range("event_retention_days", eventRetentionDays, 0, 100 * 365);
        if (eventRetentionBytes < 0) throw new IllegalArgumentException("event_retention_bytes must not be negative");
        if (httpHost == null || httpHost.isBlank()) throw new IllegalArgumentException("http_host must not be empty");
    }

    /** Defaults that fit this host: half the cores as slots, memory kept to a quarter of the RAM. */
    public static OrchestratorConfig defaults(Path stateRoot) {
        int cores = Runtime.getRuntime().availableProcessors();
        boolean mac = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("mac");
        long ramMiB = physicalMemoryMiB();
        int vmMemory = 2048;
        int byMemory = (int) Math.max(1, (ramMiB / 4) / vmMemory);
        int slots = Math.max(1, Math.min(Math.max(1, cores / 2), byMemory));
        return new OrchestratorConfig(slots, Math.min(2, cores), vmMemory, mac ? "vfkit" : "qemu", "auto",
                defaultGuestDir(), 3600, 180, 10, "127.0.0.1", 7823, "auto", "full", 8, 1L << 30,
                "https://api.anthropic.com", 0, "proxy", 600, 30, 0, List.of());
    }

    public static Path defaultGuestDir() {
        String env = System.getenv("MVO_GUEST_DIR");
        if (env != null && !env.isBlank()) return Path.of(env).toAbsolutePath();
        return Path.of(System.getProperty("user.home"), ".cache", "microvm-orchestrator", "images", "debian-agent-x86_64");
    }

    /** Defaults overridden by {@code config.json} when present. */
    public static OrchestratorConfig load(StatePaths paths) {
        OrchestratorConfig d = defaults(paths.root());
        Path file = paths.configFile();
        if (!Files.exists(file)) return d;
        JsonObject j;
        try {
            j = new JsonObject(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (DecodeException e) {
            throw new IllegalArgumentException("configuration " + file + " is not valid JSON: " + e.getMessage());
        }
        return d.merge(j, file.toString());
    }

    /** This configuration with the keys of {@code j} applied. */
    public OrchestratorConfig merge(JsonObject j, String source) {
        for (String k : j.fieldNames()) {
            if (!KEYS.contains(k)) throw new IllegalArgumentException("unknown configuration key '" + k + "' in " + source + "; known keys: " + new java.util.TreeSet<>(KEYS));
        }
        try {
            return new OrchestratorConfig(j.getInteger("slots", slots), j.getInteger("vm_cpus", vmCpus),
                    j.getInteger("vm_memory_mib", vmMemoryMiB), j.getString("driver", driver),
                    j.getString("accelerator", accelerator),
                    j.containsKey("guest_dir") ? Path.of(j.getString("guest_dir")).toAbsolutePath() : guestDir,
                    j.getInteger("task_timeout_seconds", taskTimeoutSeconds),
                    j.getInteger("boot_timeout_seconds", bootTimeoutSeconds),
                    j.getInteger("stop_grace_seconds", stopGraceSeconds), j.getString("http_host", httpHost),
                    j.getInteger("http_port", httpPort), j.getString("default_merge_strategy", defaultMergeStrategy),
                    j.getString("default_network", defaultNetwork), j.getInteger("slot_disk_gib", slotDiskGiB),
                    j.getLong("max_bundle_bytes", maxBundleBytes), j.getString("api_upstream", apiUpstream),
                    j.getInteger("api_proxy_port", apiProxyPort), j.getString("credential_mode", credentialMode),
                    j.getInteger("daemon_idle_exit_seconds", daemonIdleExitSeconds),
                    j.getInteger("event_retention_days", eventRetentionDays),
                    j.getLong("event_retention_bytes", eventRetentionBytes),
                    j.containsKey("allowed_domains") ? j.getJsonArray("allowed_domains").stream().map(String::valueOf).toList() : allowedDomains);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("wrong value type in " + source + ": " + e.getMessage());
        }
    }

    public JsonObject toJson() {
        return new JsonObject().put("slots", slots).put("vm_cpus", vmCpus).put("vm_memory_mib", vmMemoryMiB)
                .put("driver", driver).put("accelerator", accelerator).put("guest_dir", guestDir.toString())
                .put("task_timeout_seconds", taskTimeoutSeconds).put("boot_timeout_seconds", bootTimeoutSeconds)
                .put("stop_grace_seconds", stopGraceSeconds).put("http_host", httpHost).put("http_port", httpPort)
                .put("default_merge_strategy", defaultMergeStrategy).put("default_network", defaultNetwork)
                .put("slot_disk_gib", slotDiskGiB).put("max_bundle_bytes", maxBundleBytes)
                .put("api_upstream", apiUpstream).put("api_proxy_port", apiProxyPort).put("credential_mode", credentialMode)
                .put("daemon_idle_exit_seconds", daemonIdleExitSeconds).put("event_retention_days", eventRetentionDays)
                .put("event_retention_bytes", eventRetentionBytes)
                .put("allowed_domains", new io.vertx.core.json.JsonArray(allowedDomains));
    }

    private static long physicalMemoryMiB() {
        try {
            var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean sun) return sun.getTotalMemorySize() >> 20;
        } catch (RuntimeException | LinkageError ignored) {
            // fall through
        }
        return 8192;
    }

    private static void range(String key, int v, int min, int max) {
        if (v < min || v > max) throw new IllegalArgumentException(key + " must be between " + min + " and " + max + ", got " + v);
    }

    private static void oneOf(String key, String v, Set<String> allowed) {
        if (v == null || !allowed.contains(v)) throw new IllegalArgumentException(key + " must be one of " + new java.util.TreeSet<>(allowed) + ", got " + v);
    }
}
