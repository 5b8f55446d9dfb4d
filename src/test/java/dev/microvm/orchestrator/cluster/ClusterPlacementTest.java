package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskIds;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The cluster placement against the home side's local addresses, present, failing or not deployed yet. */
class ClusterPlacementTest {

    private Vertx vertx;
    private ClusterPlacement placement;

    @BeforeEach
    void start() {
        vertx = Vertx.vertx();
        placement = new ClusterPlacement(vertx, "alpha");
    }

    @AfterEach
    void stop() throws Exception {
        await(vertx.close());
    }

    @Test
    void aTaskPlacedOnAnotherHostComesBackAsItsHomeRecord() throws Exception {
        TaskRecord record = record();
        TaskRecord placed = record.withNode("beta").withPrepared(new JsonObject().put("base_commit", "0".repeat(40)));
        await(vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_PLACE, m -> m.reply(new JsonObject().put("record", placed.toJson()))).completion());

        Optional<TaskRecord> result = await(placement.place(record));

        assertThat(result).hasValueSatisfying(r -> {
            assertThat(r.id()).isEqualTo(record.id());
            assertThat(r.node()).isEqualTo("beta");
        });
    }

    @Test
    void aTaskRunsHereWhenPlacementSaysSoFailsOrIsNotDeployed() throws Exception {
        assertThat(await(placement.place(record()))).as("no consumer").isEmpty();
        var consumer = vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_PLACE, m -> m.reply(new JsonObject().put("node", "alpha")));
        await(consumer.completion());
        assertThat(await(placement.place(record()))).as("placed here").isEmpty();
        await(consumer.unregister());
        await(vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_PLACE, m -> m.fail(500, "no members answer")).completion());
        assertThat(await(placement.place(record()))).as("placement failed").isEmpty();
    }

    @Test
    void aRecordWithoutAnotherHostOrAShippedBaseIsRecoveredHere() throws Exception {
        await(vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_FOLLOW, m -> m.reply(new JsonObject())).completion());
        assertThat(await(placement.follow(record().withNode("alpha").withPrepared(new JsonObject())))).as("names this host").isFalse();
        assertThat(await(placement.follow(record().withNode("beta")))).as("never shipped").isFalse();
        assertThat(await(placement.follow(record().withNode("myhost-4242").withPrepared(new JsonObject().put("method", "alternates")))))
                .as("prepared here by another process of this host").isFalse();
        assertThat(await(placement.follow(shipped()))).isTrue();
    }

    @Test
    void aFollowTheHomeSideRefusesIsRecoveredHere() throws Exception {
        await(vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_FOLLOW, m -> m.fail(400, "refused")).completion());
        assertThat(await(placement.follow(shipped()))).isFalse();
    }

    @Test
    void aFollowBeforeTheClusterVerticlesAreUpReachesThemOnceTheyAre() throws Exception {
        TaskRecord r = shipped();
        assertThat(await(placement.follow(r))).as("followed, not recovered here").isTrue();

        CompletableFuture<String> handedOver = new CompletableFuture<>();
        await(vertx.eventBus().<JsonObject>localConsumer(Addresses.CLUSTER_FOLLOW, m -> {
            handedOver.complete(m.body().getJsonObject("record").getString("task_id"));
            m.reply(new JsonObject());
        }).completion());

        assertThat(handedOver.get(ClusterPlacement.FOLLOW_RETRY_MS * 5, TimeUnit.MILLISECONDS)).isEqualTo(r.id());
    }

    private static TaskRecord shipped() {
        return record().withNode("beta").withPrepared(new JsonObject().put("base_commit", "0".repeat(40)).put("method", "shipped"));
    }

    private static TaskRecord record() {
        return TaskRecord.queued(TaskIds.next(), "project", "/nonexistent/project", "do it", "test", "alpha",
                TaskOptions.fromJson(new JsonObject()), null, Instant.now().toString());
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
}
