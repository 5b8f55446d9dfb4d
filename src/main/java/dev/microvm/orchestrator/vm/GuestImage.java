package dev.microvm.orchestrator.vm;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A guest image: a directory with a manifest ({@value #MANIFEST}) naming everything needed to boot
 * it. The orchestrator boots images only through this class; the image builders
 * ({@code scripts/build-guest.sh}, {@code nixos-vm/flake.nix}) write the same manifest.
 *
 * <pre>
 * {
 *   "manifest_version": 1,
 *   "image_version": "debian-12-agent-x86_64-…",
 *   "architecture": "x86_64" | "aarch64",
 *   "kernel": "vmlinux",                 plain names, relative to the image directory
 *   "initrd": "initrd.cpio.gz",
 *   "cmdline": "panic=-1 quiet …",       the whole kernel command line but console=
 *   "console": "ttyS0" | "hvc0" | "ttyAMA0",
 *   "disks": [ { "file": "store.img", "serial": "mvo_store", "read_only": true } ],
 *   "agent_user": { "name": "agent", "uid": 1000, "gid": 1000, "home": "/home/agent" },
 *   "agents": [ { "name": "claude-code", "command": "claude", "version": "2.1.197", … } ],
 *   "features": [ "nix", "containers" ]   optional: what the guest offers a task beyond the agent
 * }
 * </pre>
 * Features: {@value #FEATURE_NIX} (Nix with flakes, so the runner can run the agent inside the
 * repository's {@code nix develop}, its store kept on the cache disk) and {@value #FEATURE_CONTAINERS}
 * (podman with a {@code docker} alias and compose, its storage on the cache disk). An image that
 * names no feature offers neither; an unknown name is refused.
 * Every problem is reported as {@link InvalidImage}, naming the image directory and the field.
 */
public record GuestImage(
        Path dir,
        String imageVersion,
        String architecture,
        Path kernel,
        Path initrd,
        String cmdline,
        String console,
        List<ImageDisk> disks,
        AgentUser agentUser,
        List<Agent> agents,
        Set<String> features) {

    public static final String MANIFEST = "mvo-image.json";
    public static final int MANIFEST_VERSION = 1;
    public static final Set<String> ARCHITECTURES = Set.of("x86_64", "aarch64");
    public static final String FEATURE_NIX = "nix";
    public static final String FEATURE_CONTAINERS = "containers";
    public static final Set<String> FEATURES = Set.of(FEATURE_NIX, FEATURE_CONTAINERS);

    private static final Pattern PLAIN_NAME = Pattern.compile("[A-Za-z0-9._+-]{1,128}");
    private static final Pattern CONSOLE = Pattern.compile("(ttyS|hvc|ttyAMA)[0-9]{1,2}");
    private static final Pattern USER = Pattern.compile("[a-z_][a-z0-9_-]{0,31}");
    private static final Pattern COMMAND = Pattern.compile("[A-Za-z0-9._+-]{1,64}");

    /** A disk every VM of this image gets (for example the read-only store), found by its serial. */
    public record ImageDisk(Path file, String serial, boolean readOnly) {}

    /** The unprivileged user the agent runs as in the guest; never root. */
    public record AgentUser(String name, int uid, int gid, String home) {}

    /** An agent the image contains, with the version it was built with. */
    public record Agent(String name, String command, String version) {}

    /** A manifest that is missing, unreadable or wrong; the message names the image and the field. */
    public static final class InvalidImage extends IllegalArgumentException {
        InvalidImage(String message) {
            super(message);
        }
    }

    /** Reads and checks the manifest of the image in {@code dir}, and that every file it names exists. */
    public static GuestImage load(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        Path manifest = abs.resolve(MANIFEST);
        if (!Files.isRegularFile(manifest)) {
            throw new InvalidImage("guest image " + abs + ": no " + MANIFEST + " (build the default image with "
                    + "scripts/build-guest.sh, or point guest_dir in config.json at an image directory)");
        }
        JsonObject m;
        try {
            m = new JsonObject(Files.readString(manifest, StandardCharsets.UTF_8));
        } catch (IOException | DecodeException e) {
            throw new InvalidImage("guest image " + abs + ": " + MANIFEST + " is not readable JSON: " + e.getMessage());
        }
        Reader r = new Reader(abs);
        int version = r.integer(m, "manifest_version", 1, 1000);
        if (version != MANIFEST_VERSION) {
            throw r.invalid("manifest_version", "is " + version + "; this orchestrator reads version " + MANIFEST_VERSION);
        }
        String imageVersion = r.string(m, "image_version", Pattern.compile("[A-Za-z0-9._+:-]{1,200}"));
        String arch = r.string(m, "architecture", null);
        if (!ARCHITECTURES.contains(arch)) throw r.invalid("architecture", "must be one of " + ARCHITECTURES + ", got '" + arch + "'");
        Path kernel = r.file(m, "kernel", "kernel");
        Path initrd = r.file(m, "initrd", "initrd");
        String cmdline = r.string(m, "cmdline", null);
        if (cmdline.indexOf('\n') >= 0 || cmdline.indexOf('\0') >= 0) throw r.invalid("cmdline", "must be one line");
        if ((" " + cmdline).contains(" console=")) throw r.invalid("cmdline", "must not set console= (the console field does)");
        String console = r.string(m, "console", CONSOLE);
        List<ImageDisk> disks = new ArrayList<>();
        JsonArray diskArray = r.array(m, "disks");
        for (int i = 0; i < diskArray.size(); i++) {
            String field = "disks[" + i + "]";
            if (!(diskArray.getValue(i) instanceof JsonObject d)) throw r.invalid(field, "must be an object");
            String serial = r.string(d, field + ".serial", "serial", Pattern.compile("[a-zA-Z0-9_-]{1,20}"));
            if (serial.equals(GuestContract.DISK_SLOT)) throw r.invalid(field + ".serial", "'" + serial + "' is the slot disk's serial");
            if (!(d.getValue("read_only") instanceof Boolean ro)) throw r.invalid(field + ".read_only", "must be true or false");
            if (!ro) throw r.invalid(field + ".read_only", "must be true: an image's disks are shared by every VM of the image");
            disks.add(new ImageDisk(r.file(d, field + ".file", "file"), serial, true));
        }
        if (m.getValue("agent_user") == null) throw r.invalid("agent_user", "is missing");
        if (!(m.getValue("agent_user") instanceof JsonObject u)) throw r.invalid("agent_user", "must be an object");
        AgentUser user = new AgentUser(r.string(u, "agent_user.name", "name", USER),
                r.integer(u, "agent_user.uid", "uid", 1, 65_533), r.integer(u, "agent_user.gid", "gid", 1, 65_533),
                r.string(u, "agent_user.home", "home", Pattern.compile("/[A-Za-z0-9._/-]{1,200}")));
        List<Agent> agents = new ArrayList<>();
        JsonArray agentArray = r.array(m, "agents");
        for (int i = 0; i < agentArray.size(); i++) {
            String field = "agents[" + i + "]";
            if (!(agentArray.getValue(i) instanceof JsonObject a)) throw r.invalid(field, "must be an object");
            agents.add(new Agent(r.string(a, field + ".name", "name", COMMAND), r.string(a, field + ".command", "command", COMMAND),
                    r.string(a, field + ".version", "version", Pattern.compile("[A-Za-z0-9._+-]{1,64}"))));
        }
        Set<String> features = new java.util.TreeSet<>();
        if (m.getValue("features") != null) {
            JsonArray featureArray = r.array(m, "features");
            for (int i = 0; i < featureArray.size(); i++) {
                if (!(featureArray.getValue(i) instanceof String f) || !FEATURES.contains(f)) {
                    throw r.invalid("features[" + i + "]", "must be one of " + new java.util.TreeSet<>(FEATURES) + ", got " + featureArray.getValue(i));
                }
                features.add(f);
            }
        }
        return new GuestImage(abs, imageVersion, arch, kernel, initrd, cmdline, console, List.copyOf(disks), user, List.copyOf(agents),
                java.util.Collections.unmodifiableSet(features));
    }

    /** The boot section of a VM spec: kernel, initrd and {@code console=<console> <cmdline> <extra>}. */
    public VmSpec.Boot boot(String extraCmdline) {
        String extra = extraCmdline == null || extraCmdline.isBlank() ? "" : " " + extraCmdline.strip();
        return new VmSpec.Boot(kernel, initrd, ("console=" + console + " " + cmdline).strip() + extra);
    }

    /** The image's own disks (attached before the slot disk). */
    public List<VmSpec.Disk> vmDisks() {
        return disks.stream().map(d -> new VmSpec.Disk(d.file(), d.readOnly(), d.serial())).toList();
    }

    /** The agent that runs a task with no agent_command, if the image has it. */
    public Optional<Agent> agent(String command) {
        return agents.stream().filter(a -> a.command().equals(command)).findFirst();
    }

    /** Whether the image offers {@code feature} ({@link #FEATURES}). */
    public boolean has(String feature) {
        return features.contains(feature);
    }

    /** Field readers that name the image and the field in every error. */
    private record Reader(Path dir) {
        InvalidImage invalid(String field, String problem) {
            return new InvalidImage("guest image " + dir + ": field '" + field + "' " + problem + " (in " + MANIFEST + ")");
        }

        String string(JsonObject o, String key, Pattern pattern) {
            return string(o, key, key, pattern);
        }

        String string(JsonObject o, String field, String key, Pattern pattern) {
            Object v = o.getValue(key);
            if (v == null) throw invalid(field, "is missing");
            if (!(v instanceof String s)) throw invalid(field, "must be a string");
            if (pattern != null && !pattern.matcher(s).matches()) throw invalid(field, "must match " + pattern + ", got '" + s + "'");
            return s;
        }

        int integer(JsonObject o, String key, int min, int max) {
            return integer(o, key, key, min, max);
        }

        int integer(JsonObject o, String field, String key, int min, int max) {
            Object v = o.getValue(key);
            if (v == null) throw invalid(field, "is missing");
            if (!(v instanceof Integer i) || i < min || i > max) throw invalid(field, "must be a whole number in " + min + ".." + max + ", got " + v);
            return i;
        }

        JsonArray array(JsonObject o, String key) {
            Object v = o.getValue(key);
            if (v == null) throw invalid(key, "is missing");
            if (!(v instanceof JsonArray a)) throw invalid(key, "must be an array");
            return a;
        }

        /** A plain file name in the image directory (no path, no link out of it), which must exist. */
        Path file(JsonObject o, String field, String key) {
            String name = string(o, field, key, null);
            if (!PLAIN_NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
                throw invalid(field, "must be a plain file name in the image directory, got '" + name + "'");
            }
            Path p = dir.resolve(name);
            if (!Files.isRegularFile(p)) throw invalid(field, "names " + name + ", which is not a file in the image directory");
            if (Files.isSymbolicLink(p)) {
                // Nix outputs are links into the store: allowed, as long as they end at a regular file.
                try {
                    if (!Files.isRegularFile(p.toRealPath())) throw invalid(field, "names " + name + ", a link to no file");
                } catch (IOException e) {
                    throw invalid(field, "names " + name + ", which cannot be resolved: " + e.getMessage());
                }
            }
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !Files.isSymbolicLink(p)) throw invalid(field, "names " + name + ", not a file");
            return p;
        }
    }
}
