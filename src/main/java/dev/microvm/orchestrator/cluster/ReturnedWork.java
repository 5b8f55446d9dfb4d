package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.git.BundleImporter;
import dev.microvm.orchestrator.git.GitTaskException;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.util.AtomicFiles;
import dev.microvm.orchestrator.vm.GuestContract;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * On the home host, blocking: what another host sends back for a task is written where a local
 * task's would be — console lines to its console log, the end of the agent's log as its agent log,
 * the agent's commits on {@code refs/tasks/<id>} of the user's repository.
 */
record ReturnedWork(StatePaths paths, Path cacheRoot, long maxBundleBytes) {

    private static final Logger LOG = LoggerFactory.getLogger(ReturnedWork.class);

    /** Saves the returned commits on refs/tasks/&lt;id&gt; of the user's repository; returns how many (none without a bundle). */
    int importCommits(TaskRecord r, byte[] bundle) throws IOException, GitTaskException {
        if (bundle == null) return 0;
        Path dir = Files.createDirectories(cacheRoot.resolve(".returned"));
        Path file = Files.createTempFile(dir, r.id() + "-", ".bundle");
        try {
            Files.write(file, bundle);
            return new BundleImporter().importBundle(Path.of(r.repoPath()), file, r.id(),
                    r.prepared().getString("agent_base_commit"), maxBundleBytes).commitCount();
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /**
     * The end of the agent's log, shipped with a remote task's final event, becomes this task's
     * agent log (what get_task_logs stream=agent reads), marked when its beginning stayed behind.
     */
    void saveAgentLog(String id, String node, JsonObject msg) {
        byte[] log = msg.getBinary("agent_log");
        if (log == null) return;
        long size = msg.getLong("agent_log_size", (long) log.length);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream(log.length + 100);
            if (size > log.length) {
                out.writeBytes(("[the first " + (size - log.length) + " bytes of this log were not sent from host " + node + "]\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            out.writeBytes(log);
            AtomicFiles.write(paths.taskIo(id).resolve(GuestContract.OUT_AGENT_LOG), out.toByteArray(), null);
        } catch (IOException e) {
            LOG.warn("the agent log of task {} from host {} could not be saved: {}", id, node, e.getMessage());
        }
    }

    /** Console lines of a remote task go to the home copy of its console log, which get_task_logs reads. */
    void appendConsole(String id, JsonObject data) throws IOException {
        JsonArray lines = data.getJsonArray("lines");
        if (lines == null || lines.isEmpty()) return;
        StringBuilder text = new StringBuilder();
        lines.forEach(l -> text.append(l).append('\n'));
        Path log = paths.taskConsoleLog(id);
        Files.createDirectories(log.getParent());
        Files.writeString(log, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS);
    }
}
