package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.util.ProcessRunner;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What a slot keeps per repository on the host: one cache image per (slot, repository,
 * architecture) and, beside it, the key of the setup this slot last ran successfully for that
 * repository.
 *
 * <pre>
 * slots/&lt;n&gt;/cache/&lt;repo-key&gt;-&lt;arch&gt;.img    sparse raw image, attached as virtio-blk serial mvo_cache
 *                                        to that repository's tasks only (the guest formats it on first use)
 * slots/&lt;n&gt;/cache/&lt;repo-key&gt;-&lt;arch&gt;.json   {"repo", "arch", "setup_key", "setup_at"}
 * </pre>
 * The repository key is the repository directory's name (made safe) and the start of the SHA-256
 * of its absolute path, so two repositories never share an image.
 */
public final class SlotCaches {
    private static final Pattern ARCH = Pattern.compile("[a-z0-9_]{1,32}");
    private static final Pattern UNSAFE = Pattern.compile("[^A-Za-z0-9._-]");

    private final StatePaths paths;

    public SlotCaches(StatePaths paths) {
        this.paths = paths;
    }

    /** One (slot, repository, architecture). */
    public record Entry(Path image, Path keyFile) {}

    public Entry entry(int slot, String repoPath, String arch) {
        if (!ARCH.matcher(arch).matches()) throw new IllegalArgumentException("invalid architecture '" + arch + "'");
        Path dir = paths.slotDir(slot).resolve("cache");
        String name = repoKey(repoPath) + "-" + arch;
        return new Entry(dir.resolve(name + ".img"), dir.resolve(name + ".json"));
    }

    /** {@code <safe directory name, at most 40 characters>-<12 hex digits of the path's SHA-256>}. */
    public static String repoKey(String repoPath) {
        Path p = Path.of(repoPath).toAbsolutePath().normalize();
        String base = p.getFileName() == null ? "repo" : UNSAFE.matcher(p.getFileName().toString()).replaceAll("_");
        if (base.startsWith(".")) base = "_" + base.substring(1);
        if (base.length() > 40) base = base.substring(0, 40);
        return base + "-" + sha256(p.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 12);
    }

    /** The setup key this slot last recorded for the repository, if any. */
    public Optional<String> setupKey(Entry e) {
        return read(e.keyFile()).map(j -> j.getString("setup_key"));
    }

    /** Names the repository beside its image, so list_slots can say whose image it is (kept setup key untouched). */
    public void remember(Entry e, String repoPath, String arch) throws IOException {
        JsonObject j = read(e.keyFile()).orElseGet(JsonObject::new);
        if (repoPath.equals(j.getString("repo")) && arch.equals(j.getString("arch"))) return;
        AtomicFiles.write(e.keyFile(), j.put("repo", repoPath).put("arch", arch).encodePrettily());
    }

    /** After a setup that succeeded: its key, so the next task of the repository on this slot can skip it. */
    public void recordSetup(Entry e, String repoPath, String arch, String key, Instant at) throws IOException {
        JsonObject j = read(e.keyFile()).orElseGet(JsonObject::new);
        AtomicFiles.write(e.keyFile(), j.put("repo", repoPath).put("arch", arch).put("setup_key", key).put("setup_at", at.toString())
                .encodePrettily());
    }

    /**
     * What slot {@code slot} holds, per repository: [{repo, arch, image_bytes (allocated on disk),
     * image_size (apparent), setup_key, setup_at}].
     */
    public JsonArray describe(int slot) throws IOException {
        Path dir = paths.slotDir(slot).resolve("cache");
        JsonArray out = new JsonArray();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return out;
        try (DirectoryStream<Path> images = Files.newDirectoryStream(dir, "*.img")) {
            for (Path img : images) {
                String name = img.getFileName().toString();
                Path keyFile = dir.resolve(name.substring(0, name.length() - 4) + ".json");
                JsonObject info = read(keyFile).orElseGet(JsonObject::new);
                BasicFileAttributes a = Files.readAttributes(img, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                out.add(new JsonObject().put("repo", info.getString("repo")).put("arch", info.getString("arch"))
                        .put("image", name).put("image_bytes", allocatedBytes(img, a.size())).put("image_size", a.size())
                        .put("setup_key", info.getString("setup_key")).put("setup_at", info.getString("setup_at")));
            }
        }
        return out;
    }

    /** Bytes allocated on disk (du): a sparse image costs what it holds; the apparent size where du cannot tell. */
    private static long allocatedBytes(Path img, long apparent) {
        try {
            ProcessRunner.Result r = ProcessRunner.of("du", "-k", "--", img.toString()).timeout(Duration.ofSeconds(10)).run();
            String kib = r.output().strip().split("\\s+", 2)[0];
            return r.exitCode() == 0 && kib.matches("\\d{1,18}") ? Long.parseLong(kib) * 1024 : apparent;
        } catch (IOException e) {
            return apparent;
        }
    }

    private static Optional<JsonObject> read(Path f) {
        try {
            if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
            return Optional.of(new JsonObject(Files.readString(f)));
        } catch (IOException | DecodeException e) {
            return Optional.empty(); // unreadable: as if never recorded, so setup runs again
        }
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
