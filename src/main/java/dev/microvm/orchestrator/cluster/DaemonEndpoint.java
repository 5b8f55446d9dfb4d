package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.secrets.AccessToken;
import dev.microvm.orchestrator.util.AtomicFiles;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a running {@code serve} daemon accepts local MCP processes: a loopback port, the daemon's
 * pid and node id, kept in {@code daemon/endpoint.json} under the state directory. The shared
 * secret a client must present lives in its own 0600 file, {@code daemon/token}.
 *
 * <p>A file left behind by a daemon that died is harmless: {@link #find} skips it when the pid is
 * gone, and a live connection is the final check.
 */
public record DaemonEndpoint(String host, int port, long pid, String nodeId) {

    public static Path directory(StatePaths paths) {
        return paths.root().resolve("daemon");
    }

    public static Path file(StatePaths paths) {
        return directory(paths).resolve("endpoint.json");
    }

    public static Path tokenFile(StatePaths paths) {
        return directory(paths).resolve("token");
    }

    /** The channel's secret; created on first use. Blocking. */
    public static AccessToken token(StatePaths paths) {
        return AccessToken.loadOrCreate(tokenFile(paths));
    }

    public JsonObject toJson() {
        return new JsonObject().put("host", host).put("port", port).put("pid", pid).put("node_id", nodeId);
    }

    /** Publishes this endpoint (atomically, 0600). Blocking. */
    public void write(StatePaths paths) throws IOException {
        AtomicFiles.privateDirectory(directory(paths));
        AtomicFiles.write(file(paths), toJson().encodePrettily().getBytes(StandardCharsets.UTF_8), "rw-------");
    }

    /** Removes the endpoint file if it still names this daemon (a newer daemon may have replaced it). Blocking. */
    public void withdraw(StatePaths paths) {
        try {
            Optional<DaemonEndpoint> current = read(paths);
            if (current.isPresent() && current.get().pid() == pid && current.get().port() == port) {
                Files.deleteIfExists(file(paths));
            }
        } catch (IOException | RuntimeException ignored) {
            // a stale file is skipped by readers anyway
        }
    }

    /** The endpoint of a daemon whose process is alive, if any. Blocking. */
    public static Optional<DaemonEndpoint> find(StatePaths paths) {
        try {
            return read(paths).filter(e -> ProcessHandle.of(e.pid()).map(ProcessHandle::isAlive).orElse(false));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    static Optional<DaemonEndpoint> read(StatePaths paths) throws IOException {
        Path f = file(paths);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        JsonObject j = new JsonObject(Files.readString(f, StandardCharsets.UTF_8));
        String host = j.getString("host", "127.0.0.1");
        if (!host.equals("127.0.0.1") && !host.equals("::1")) {
            throw new IOException("the daemon endpoint must be on loopback, found " + host);
        }
        return Optional.of(new DaemonEndpoint(host, j.getInteger("port"), j.getLong("pid"), j.getString("node_id")));
    }
}
