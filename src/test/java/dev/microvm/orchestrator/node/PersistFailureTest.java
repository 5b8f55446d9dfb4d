package dev.microvm.orchestrator.node;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.task.TaskStore;
import dev.microvm.orchestrator.testing.NodeFixture;
import io.vertx.core.eventbus.DeliveryContext;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fault injection on the record writes of one task: the worker's answer to chosen
 * {@code WORKER_PERSIST} requests is a failure, and nothing is written (the request never reaches
 * the worker). The task must end in a defined state and give its slot back.
 */
class PersistFailureTest {

    @TempDir Path tmp;
    private NodeFixture f;
    private StatePaths paths;
    /** Record states ("running", "failed") whose first write for the victim task fails. */
    private final Set<String> failOnce = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void start() throws Exception {
        f = NodeFixture.withProject(tmp);
        paths = f.node.paths();
        f.node.vertx().eventBus().addOutboundInterceptor(this::failChosenWrites);
    }

    @AfterEach
    void stop() throws Exception {
        f.close();
    }

    private void failChosenWrites(DeliveryContext<Object> ctx) {
        if (Addresses.WORKER_PERSIST.equals(ctx.message().address()) && ctx.message().body() instanceof JsonObject b) {
            JsonObject rec = b.getJsonObject("record");
            if (rec != null && "victim".equals(rec.getString("description")) && failOnce.remove(rec.getString("status"))) {
                ctx.message().fail(FailureReason.IO_ERROR.code(), "no space left on device");
                return;
            }
        }
        ctx.next();
    }

    private String submit(String description, String agent) throws Exception {
        return f.submit("project", description, new JsonObject().put("agent_command", agent)).getString("task_id");
    }

    private JsonObject slots() throws Exception {
        return f.request(Addresses.SLOT_LIST, new JsonObject());
    }

    @Test
    void aFailingPersistEndsTheTaskInADefinedStateAndReleasesItsSlot() throws Exception {
        failOnce.add("running");
        String victim = submit("victim", "sleep 120");
        String next = submit("next", "echo done");

        JsonObject ended = f.awaitTerminal(victim, Duration.ofSeconds(30));
        assertThat(ended.getString("status")).isEqualTo("failed");
        assertThat(ended.getString("reason")).isEqualTo("persist_failed");
        assertThat(ended.getString("error")).contains("no space left on device");
        assertThat(new TaskStore(paths).load(victim).orElseThrow().failureReason()).isEqualTo(FailureReason.PERSIST_FAILED);

        // its one slot went to the queued task, which runs to the end
        assertThat(f.awaitTerminal(next, Duration.ofSeconds(30)).getString("status")).isEqualTo("completed");
        assertThat(slots().getJsonArray("active")).isEmpty();
    }

    @Test
    void whenNotEvenTheFailureCanBeRecordedTheTaskIsLeftToRecoveryWhichEndsIt() throws Exception {
        failOnce.add("running");
        failOnce.add("failed");
        String victim = submit("victim", "sleep 120");

        // this process let it go (its last durable record says starting) and the adoption sweep took it back
        JsonObject ended = f.awaitTerminal(victim, Duration.ofSeconds(40));
        assertThat(ended.getString("status")).isEqualTo("failed");
        assertThat(failOnce).isEmpty();
        assertThat(slots().getJsonArray("active")).isEmpty();
        String after = submit("after", "echo done");
        assertThat(f.awaitTerminal(after, Duration.ofSeconds(30)).getString("status")).isEqualTo("completed");
    }
}
