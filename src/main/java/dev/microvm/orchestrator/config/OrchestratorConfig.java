package dev.microvm.orchestrator.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.databind.util.StdConverter;
import dev.microvm.orchestrator.util.JsonSchema;
import dev.microvm.orchestrator.util.JsonSchemas;
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
 * directory overrides them. What it may hold is {@code schemas/config.schema.json}: unknown keys
 * are refused so a typo never goes unnoticed.
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
 * @param vfkitBinary        the vfkit executable the vfkit driver runs: an absolute path, or a name
 *                           found on PATH ({@code vfkit}, as {@code brew install vfkit} puts it there)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OrchestratorConfig(
        @JsonProperty("slots") int slots,
        @JsonProperty("vm_cpus") int vmCpus,
        @JsonProperty("vm_memory_mib") int vmMemoryMiB,
        @JsonProperty("driver") String driver,
        @JsonProperty("accelerator") String accelerator,
        @JsonProperty("guest_dir") @JsonSerialize(using = ToStringSerializer.class) @JsonDeserialize(converter = PlainPath.class) Path guestDir,
        @JsonProperty("task_timeout_seconds") int taskTimeoutSeconds,
        @JsonProperty("boot_timeout_seconds") int bootTimeoutSeconds,
        @JsonProperty("stop_grace_seconds") int stopGraceSeconds,
        @JsonProperty("http_host") String httpHost,
        @JsonProperty("http_port") int httpPort,
        @JsonProperty("default_merge_strategy") String defaultMergeStrategy,
        @JsonProperty("default_network") String defaultNetwork,
        @JsonProperty("slot_disk_gib") int slotDiskGiB,
        @JsonProperty("max_bundle_bytes") long maxBundleBytes,
        @JsonProperty("api_upstream") String apiUpstream,
        @JsonProperty("api_proxy_port") int apiProxyPort,
        @JsonProperty("credential_mode") String credentialMode,
        @JsonProperty("daemon_idle_exit_seconds") int daemonIdleExitSeconds,
        @JsonProperty("event_retention_days") int eventRetentionDays,
        @JsonProperty("event_retention_bytes") long eventRetentionBytes,
        @JsonProperty("allowed_domains") List<String> allowedDomains,
        @JsonProperty("vfkit_binary") String vfkitBinary) {

    /** What {@code config.json} may hold: {@code schemas/config.schema.json} (types, ranges, enums, unknown keys). */
    static final JsonSchema SCHEMA = JsonSchemas.load("config.schema.json", "configuration key");

    private static final java.util.regex.Pattern DRIVER_NAME = java.util.regex.Pattern.compile("[a-z][a-z0-9-]{0,31}");

    public OrchestratorConfig {
        // which drivers this build has is vm/Drivers' to say (the node refuses any other before it starts)
        if (driver == null || !DRIVER_NAME.matcher(driver).matches()) {
            throw new IllegalArgumentException("driver must be a driver name such as qemu or vfkit, got " + driver);
        }
        guestDir = guestDir == null ? null : guestDir.toAbsolutePath();
        vfkitBinary = vfkitBinary == null ? "vfkit" : vfkitBinary;
        allowedDomains = AllowedDomains.of(allowedDomains == null ? List.of() : allowedDomains, "allowed_domains in config.json").patterns();
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
                "https://api.anthropic.com", 0, "proxy", 600, 30, 0, List.of(), "vfkit");
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

    /**
     * This configuration with the keys of {@code j} applied, checked against the schema first;
     * {@code source} (the file, or "command line") names where a bad key came from.
     */
    public OrchestratorConfig merge(JsonObject j, String source) {
        return SCHEMA.read(toJson().mergeIn(j), source, OrchestratorConfig.class);
    }

    public JsonObject toJson() {
        return JsonSchemas.toJson(this);
    }

    /** guest_dir is a plain file name, never a URI (Jackson's default reading of a Path with a ':' in it). */
    static final class PlainPath extends StdConverter<String, Path> {
        @Override
        public Path convert(String value) {
            return Path.of(value);
        }
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

}
