package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventTypes;
import dev.microvm.orchestrator.secrets.GuestOutputReader;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.vm.GuestContract;
import io.vertx.core.json.JsonObject;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** On the executing host, blocking: the final event of a shadow task as it travels home. */
record ShadowResults(StatePaths paths, ObjectCache cache, Path scratch) {

    private static final Logger LOG = LoggerFactory.getLogger(ShadowResults.class);
    /** The most of a shadow task's agent log that travels home with its final event (its end). */
    static final int SHIPPED_AGENT_LOG_BYTES = 1 << 20;

    /**
     * The body of a final event: its data, the agent's commits ({@code refs/tasks/<shadow>}) minus the
     * shipped base, which home already has, and the end of the agent's log (home serves it from then
     * on; this host deletes its copy).
     */
    JsonObject body(Shadow shadow, String shadowId, JsonObject data) throws IOException {
        JsonObject out = new JsonObject().put("data", data);
        try {
            // the VM has stopped (terminal state), so the guest-written log can be read
            new GuestOutputReader(paths.taskIo(shadowId), SHIPPED_AGENT_LOG_BYTES).readTailIfPresent(GuestContract.OUT_AGENT_LOG)
                    .ifPresent(log -> out.put("agent_log", log.content()).put("agent_log_size", log.size()));
        } catch (IOException e) {
            LOG.warn("the agent log of task {} is not shipped home: {}", shadowId, e.getMessage());
        }
        try (Repository repo = cache.open(shadow.key)) {
            Ref tip = repo.exactRef("refs/tasks/" + shadowId);
            if (tip == null || tip.getObjectId().name().equals(shadow.baseCommit)) return out;
            Files.createDirectories(scratch);
            Path file = Files.createTempFile(scratch, "result-", ".bundle");
            try {
                ObjectShipping.write(repo, Map.of("refs/heads/result", tip.getObjectId()), List.of(shadow.baseCommit), file);
                out.put("bundle", Files.readAllBytes(file));
            } finally {
                Files.deleteIfExists(file);
            }
        }
        return out;
    }

    /** The terminal task.state event of a finished shadow, as its task verticle published it. */
    static JsonObject finalEvent(TaskRecord r) {
        JsonObject data = new JsonObject().put("state", r.state().wireName()).put("exit_code", r.exitCode());
        if (r.reason() != null) data.put("reason", r.reason()).put("error", r.error());
        if (r.result() != null) data.put("result", r.result());
        return new JsonObject().put("type", EventTypes.TASK_STATE).put("task_id", r.id()).put("data", data);
    }
}
