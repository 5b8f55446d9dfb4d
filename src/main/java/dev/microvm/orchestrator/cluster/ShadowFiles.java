package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.util.AtomicFiles;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * On the executing host, blocking: which home task each shadow task runs for, kept in a file until
 * home holds its result, so a restart of this host (or of home) never cuts a task off from its home.
 */
final class ShadowFiles {

    private static final Logger LOG = LoggerFactory.getLogger(ShadowFiles.class);
    private static final String SUFFIX = ".json";

    private final Path dir;

    ShadowFiles(Path dir) {
        this.dir = dir;
    }

    void save(String shadowId, Shadow shadow) throws IOException {
        AtomicFiles.write(file(shadowId), shadow.toJson().encode());
    }

    /** Shadow id → its home task, for every shadow whose result has not reached home yet. */
    Map<String, Shadow> load() throws IOException {
        Map<String, Shadow> out = new HashMap<>();
        if (!Files.isDirectory(dir)) return out;
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(x -> x.getFileName().toString().endsWith(SUFFIX)).toList()) {
                String name = f.getFileName().toString();
                try {
                    out.put(name.substring(0, name.length() - SUFFIX.length()), Shadow.fromJson(new JsonObject(Files.readString(f))));
                } catch (RuntimeException e) {
                    LOG.warn("ignoring damaged shadow file {}: {}", f, e.getMessage());
                }
            }
        }
        return out;
    }

    /** Home holds the shadow's result: nothing ties it to home any more. */
    boolean delete(String shadowId) throws IOException {
        return Files.deleteIfExists(file(shadowId));
    }

    private Path file(String shadowId) {
        return dir.resolve(shadowId + SUFFIX);
    }
}
