package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.testing.NodeFixture;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** "Accepted" means durable, and an error answer means no task exists. */
class TaskIntakeTest {

    @TempDir Path tmp;
    private NodeFixture f;
    private StatePaths paths;

    @BeforeEach
    void start() throws Exception {
        f = NodeFixture.withProject(tmp);
        paths = f.node.paths();
    }

    @AfterEach
    void stop() throws Exception {
        f.close();
    }

    private JsonObject submit(long acceptBefore) throws Exception {
        return f.request(Addresses.TASK_SUBMIT, new JsonObject().put("repo", "project").put("description", "task")
                .put("caller", "intake").put("agent_command", "true").put("accept_before", acceptBefore));
    }

    @Test
    void aSubmitArrivingAfterItsSenderGaveUpIsRefusedAndLeavesNoTask() throws Exception {
        assertThatThrownBy(() -> submit(System.currentTimeMillis() - 1))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(ReplyException.class)
                .hasMessageContaining("no task was created")
                .satisfies(e -> assertThat(((ReplyException) e.getCause()).failureCode()).isEqualTo(FailureReason.REQUEST_EXPIRED.code()));
        assertThat(f.request(Addresses.TASK_LIST, new JsonObject()).getJsonArray("tasks")).isEmpty();
        try (var dirs = Files.list(paths.root().resolve("tasks"))) {
            assertThat(dirs.filter(d -> Files.exists(d.resolve("task.json")))).isEmpty();
        } catch (java.nio.file.NoSuchFileException none) {
            // no task directory at all: nothing was created
        }
    }

    @Test
    void anAcceptedTaskHasItsRecordOnDiskWhenTheAnswerArrives() throws Exception {
        JsonObject accepted = submit(System.currentTimeMillis() + 30_000);
        String id = accepted.getString("id", accepted.getString("task_id"));
        assertThat(paths.taskDir(id).resolve("task.json")).isRegularFile();
        assertThat(Files.readString(paths.taskDir(id).resolve("task.json"))).contains(id);
    }

    @Test
    void aRecordWriteWhoseAnswerIsLostLeavesNoTaskThatAdoptionRuns() throws Exception {
        // the write reaches the worker and lands; its answer never comes back
        Set<String> lostReplies = ConcurrentHashMap.newKeySet();
        f.node.vertx().eventBus().addOutboundInterceptor(ctx -> {
            if (lostReplies.remove(ctx.message().address())) return;
            if (Addresses.WORKER_PERSIST.equals(ctx.message().address()) && ctx.message().body() instanceof JsonObject b
                    && b.getJsonObject("record") != null && "queued".equals(b.getJsonObject("record").getString("status"))) {
                lostReplies.add(ctx.message().replyAddress());
            }
            ctx.next();
        });

        assertThatThrownBy(() -> submit(System.currentTimeMillis() + 1_500)).isInstanceOf(ExecutionException.class);

        JsonObject listed = f.request(Addresses.TASK_LIST, new JsonObject());
        assertThat(listed.getJsonArray("tasks")).hasSize(1);
        String id = listed.getJsonArray("tasks").getJsonObject(0).getString("task_id");
        Thread.sleep(6_000); // one adoption sweep (every 5 s) later, it still never ran
        JsonObject rec = f.request(Addresses.TASK_GET, new JsonObject().put("task_id", id));
        assertThat(rec.getString("status")).isEqualTo("failed");
        assertThat(rec.getString("reason")).isEqualTo("request_expired");
        assertThat(rec.getString("started_at")).isNull();
        assertThat(rec.getValue("slot")).isNull();
    }
}
