package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.git.CommitFiles;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.slot.SlotCaches;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestImage;
import dev.microvm.orchestrator.vm.SlotDisk;
import io.vertx.core.json.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The host's half of warm slots. Before a task boots: which cache image it gets (its slot's image
 * for its repository and architecture, and no other) and whether its setup may be skipped (the
 * setup key is the one this slot recorded after the repository's last successful setup). After the
 * VM stopped: the key is recorded when the guest reports setup {@code ok}.
 */
final class WarmSlots {
    /** The largest setup input (lockfile) read for the key. */
    static final long MAX_INPUT_BYTES = 64L << 20;

    private final SlotCaches caches;
    private final long imageBytes;
    private final Clock clock;

    WarmSlots(StatePaths paths, long imageBytes, Clock clock) {
        this.caches = new SlotCaches(paths);
        this.imageBytes = imageBytes;
        this.clock = clock;
    }

    /** The task inputs ({@code task.env} entries) and the {@code prepared} fields of a task's warm slot. */
    record Plan(Map<String, String> env, JsonObject prepared) {
        static Plan none() {
            return new Plan(Map.of(), new JsonObject());
        }
    }

    /**
     * Creates the cache image if the environment keeps caches or runs setup, or the task runs inside
     * nix develop (the Nix store is kept there), and decides whether setup runs; the setup inputs are
     * read at {@code commit} (what the workspace holds). Under nix develop the flake and its lock are
     * setup inputs too: setup runs in the devShell they define.
     */
    Plan plan(TaskRecord r, Environment environment, boolean nixDevelop, String commit, Optional<GuestImage> image) {
        if (environment.setup().isEmpty() && environment.cache().isEmpty() && !nixDevelop) return Plan.none();
        try {
            String arch = image.map(GuestImage::architecture).orElse(hostArchitecture());
            String imageVersion = image.map(GuestImage::imageVersion).orElse("none");
            SlotCaches.Entry entry = caches.entry(slot(r), r.repoPath(), arch);
            SlotDisk.ensure(entry.image(), imageBytes);
            caches.remember(entry, r.repoPath(), arch);
            Map<String, Optional<byte[]>> inputs = new LinkedHashMap<>();
            List<String> keyed = new ArrayList<>(environment.setupInputs());
            if (nixDevelop) {
                for (String f : List.of(NixDevelop.FLAKE, NixDevelop.FLAKE_LOCK)) if (!keyed.contains(f)) keyed.add(f);
            }
            for (String input : keyed) {
                inputs.put(input, CommitFiles.readBytes(Path.of(r.repoPath()), commit, input, MAX_INPUT_BYTES));
            }
            String key = setupKey(environment.sha256().getBytes(StandardCharsets.UTF_8), inputs, imageVersion, arch);
            boolean fresh = Boolean.TRUE.equals(r.options().freshSetup());
            boolean skip = !environment.setup().isEmpty() && !fresh && caches.setupKey(entry).filter(key::equals).isPresent();
            Map<String, String> env = new TreeMap<>();
            if (!environment.cache().isEmpty()) env.put(GuestContract.ENV_CACHE_PATHS, String.join("\n", environment.cache()));
            if (skip) env.put(GuestContract.ENV_SETUP_SKIP, "1");
            JsonObject prepared = new JsonObject().put("cache_image", entry.image().toString()).put("arch", arch)
                    .put("setup_key", key).put("setup_skipped", skip);
            if (fresh) prepared.put("fresh_setup", true);
            return new Plan(env, prepared);
        } catch (GitTaskException e) {
            throw WorkerFailure.of(e);
        } catch (IOException e) {
            throw new WorkerFailure(FailureReason.PREPARE_FAILED, "cannot prepare the slot's cache image: " + e.getMessage(), e);
        }
    }

    /**
     * After the VM stopped: records the setup key when setup ran here and the guest reported it
     * {@code ok} (written only after every command succeeded, its processes were ended and the
     * caches were saved).
     *
     * @param setup the task's setup outcome ({@link SetupResult}), if it had setup
     * @return whether a key was recorded
     */
    boolean recordIfSetupSucceeded(TaskRecord r, Optional<JsonObject> setup) throws IOException {
        JsonObject p = r.prepared();
        if (p == null || p.getString("setup_key") == null || p.getBoolean("setup_skipped", false)) return false;
        if (!setup.map(s -> "ok".equals(s.getString("outcome"))).orElse(false)) return false;
        String arch = p.getString("arch");
        caches.recordSetup(caches.entry(slot(r), r.repoPath(), arch), r.repoPath(), arch, p.getString("setup_key"), clock.instant());
        return true;
    }

    /**
     * SHA-256 over the environment (its canonical hash: the repository's file or the host's override), every setup input (path and contents, or absent), the
     * image version and the architecture, each length-prefixed so no two inputs read the same.
     */
    static String setupKey(byte[] environment, Map<String, Optional<byte[]>> inputs, String imageVersion, String arch) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        part(b, "mvo-setup-key-1".getBytes(StandardCharsets.UTF_8));
        part(b, environment);
        inputs.forEach((path, content) -> {
            part(b, path.getBytes(StandardCharsets.UTF_8));
            part(b, content.orElse(null));
        });
        part(b, imageVersion.getBytes(StandardCharsets.UTF_8));
        part(b, arch.getBytes(StandardCharsets.UTF_8));
        return SlotCaches.sha256(b.toByteArray());
    }

    private static void part(ByteArrayOutputStream b, byte[] bytes) {
        String head = (bytes == null ? "-" : Integer.toString(bytes.length)) + ":";
        b.writeBytes(head.getBytes(StandardCharsets.UTF_8));
        if (bytes != null) b.writeBytes(bytes);
    }

    private static int slot(TaskRecord r) {
        if (r.slot() == null) throw new WorkerFailure(FailureReason.SLOT_UNAVAILABLE, "the task has no slot");
        return r.slot();
    }

    static String hostArchitecture() {
        String a = System.getProperty("os.arch", "");
        return switch (a) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> a.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        };
    }
}
