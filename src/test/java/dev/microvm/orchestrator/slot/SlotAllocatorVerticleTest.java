package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.events.EventLog;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.node.EventSink;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class SlotAllocatorVerticleTest {

    @TempDir Path tmp;
    private Vertx vertx;

    @BeforeEach
    void deploy() throws Exception {
        vertx = Vertx.vertx();
        StatePaths paths = new StatePaths(tmp);
        EventSink sink = new EventSink(vertx, new EventLog(paths.eventLog(), Clock.systemUTC()));
        await(vertx.deployVerticle(new SlotAllocatorVerticle(paths, 2, id -> false, sink)));
    }

    @AfterEach
    void close() throws Exception {
        await(vertx.close());
    }

    private CompletableFuture<Integer> acquire(String task, String repo) {
        return vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE, new JsonObject().put("task_id", task).put("repo_key", repo),
                        new DeliveryOptions().setSendTimeout(60_000))
                .compose(offer -> offer.<JsonObject>replyAndRequest(Addresses.slotTaken()))
                .map(m -> m.body().getInteger("slot")).toCompletionStage().toCompletableFuture();
    }

    private List<Object> holders() throws Exception {
        JsonObject list = await(vertx.eventBus().<JsonObject>request(Addresses.SLOT_LIST, new JsonObject())).body();
        return list.getJsonArray("active").stream().map(o -> ((JsonObject) o).getString("task_id")).map(Object.class::cast).toList();
    }

    @Test
    void aSlotRequestWhoseCallerHasGoneDoesNotLockTheSlot() throws Exception {
        int a = acquire("a", "r").get(10, TimeUnit.SECONDS);
        int b = acquire("b", "r").get(10, TimeUnit.SECONDS);
        // every slot is busy: this request waits in the queue and its caller gives up after 200 ms
        var gone = vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE, new JsonObject().put("task_id", "gone").put("repo_key", "r"),
                new DeliveryOptions().setSendTimeout(200)).toCompletionStage().toCompletableFuture();
        assertThat(gone).failsWithin(5, TimeUnit.SECONDS);
        CompletableFuture<Integer> next = acquire("next", "r");
        assertThat(release("a", a)).isTrue();
        // the freed slot is offered to the gone caller first; nobody takes it, so it goes to the next request
        assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo(a);
        assertThat(holders()).containsExactlyInAnyOrder("b", "next");
        assertThat(release("gone", a)).isFalse();
    }

    @Test
    void anOfferTheRequesterDeclinesIsWithdrawnAndTheSlotStaysFree() throws Exception {
        int a = acquire("a", "r").get(10, TimeUnit.SECONDS);
        var declined = vertx.eventBus().<JsonObject>request(Addresses.SLOT_ACQUIRE, new JsonObject().put("task_id", "declines").put("repo_key", "r"),
                new DeliveryOptions().setSendTimeout(10_000)).map(offer -> {
                    offer.fail(410, "no longer needed");
                    return offer.body().getInteger("slot");
                });
        int offered = await(declined);
        assertThat(offered).isNotEqualTo(a);
        long until = System.currentTimeMillis() + 5_000;
        while (holders().size() != 1 && System.currentTimeMillis() < until) Thread.sleep(50);
        assertThat(holders()).containsExactly("a");
        assertThat(acquire("c", "r").get(10, TimeUnit.SECONDS)).isEqualTo(offered);
    }

    private boolean release(String task, int slot) throws Exception {
        return await(vertx.eventBus().<JsonObject>request(Addresses.SLOT_RELEASE, new JsonObject().put("task_id", task).put("slot", slot)))
                .body().getBoolean("released");
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void whenEverySlotIsBusyRequestsWaitInFifoOrderInsteadOfFailing() throws Exception {
        int a = acquire("a", "r1").get(10, TimeUnit.SECONDS);
        int b = acquire("b", "r2").get(10, TimeUnit.SECONDS);
        assertThat(List.of(a, b)).containsExactlyInAnyOrder(0, 1);
        CompletableFuture<Integer> c = acquire("c", "r3");
        Thread.sleep(200);
        CompletableFuture<Integer> d = acquire("d", "r4");
        Thread.sleep(300);
        assertThat(c).isNotDone();
        assertThat(d).isNotDone();
        JsonObject listing = await(vertx.eventBus().<JsonObject>request(Addresses.SLOT_LIST, new JsonObject())).body();
        assertThat(listing.getJsonArray("queued").getList()).containsExactly("c", "d");
        assertThat(release("a", a)).isTrue();
        assertThat(c.get(10, TimeUnit.SECONDS)).isEqualTo(a);
        assertThat(d).isNotDone();
        assertThat(release("b", b)).isTrue();
        assertThat(d.get(10, TimeUnit.SECONDS)).isEqualTo(b);
    }

    @Test
    void aRepositoryReturnsToTheSlotItUsedLastWhenThatSlotIsFree() throws Exception {
        int first = acquire("a", "repo-x").get(10, TimeUnit.SECONDS);
        int other = acquire("b", "repo-y").get(10, TimeUnit.SECONDS);
        release("a", first);
        release("b", other);
        List<Integer> again = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            int y = acquire("y" + i, "repo-y").get(10, TimeUnit.SECONDS);
            int x = acquire("x" + i, "repo-x").get(10, TimeUnit.SECONDS);
            assertThat(x).isEqualTo(first);
            assertThat(y).isEqualTo(other);
            release("y" + i, y);
            release("x" + i, x);
            again.add(x);
        }
        assertThat(again).containsOnly(first);
    }

    @Test
    void aSlotIsReleasedExactlyOnceAndAWithdrawnRequestNeverGetsOne() throws Exception {
        int a = acquire("a", "r").get(10, TimeUnit.SECONDS);
        int b = acquire("b", "r").get(10, TimeUnit.SECONDS);
        CompletableFuture<Integer> c = acquire("c", "r");
        Thread.sleep(200);
        JsonObject dequeued = await(vertx.eventBus().<JsonObject>request(Addresses.SLOT_DEQUEUE, new JsonObject().put("task_id", "c"))).body();
        assertThat(dequeued.getBoolean("removed")).isTrue();
        assertThat(c).failsWithin(5, TimeUnit.SECONDS);
        assertThat(release("a", a)).isTrue();
        assertThat(release("a", a)).isFalse();
        assertThat(release("b", a)).isFalse();
        JsonObject listing = await(vertx.eventBus().<JsonObject>request(Addresses.SLOT_LIST, new JsonObject())).body();
        assertThat(listing.getJsonArray("available").getList()).containsExactly(a);
        assertThat(listing.getJsonArray("active").size()).isEqualTo(1);
        assertThat(release("b", b)).isTrue();
    }
}
