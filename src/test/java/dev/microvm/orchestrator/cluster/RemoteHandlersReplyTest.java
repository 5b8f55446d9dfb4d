package dev.microvm.orchestrator.cluster;

import dev.microvm.orchestrator.config.RepoRegistry;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.node.Addresses;
import dev.microvm.orchestrator.task.TaskStore;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The cluster's remote handlers, deployed on one host, fed requests whose handling throws before
 * any future exists (a missing commit id, a field of the wrong type, a body that is not JSON): each
 * caller gets a failure reply within a second, not after its send timeout.
 */
class RemoteHandlersReplyTest {

    private static final String SELF = "alpha";

    @TempDir Path state;
    private Vertx vertx;

    /** A cluster of this host alone. */
    private static final Members ALONE = new Members() {
        @Override public List<String> members() { return List.of(SELF); }
        @Override public void onLeft(Consumer<String> listener) { }
        @Override public void onJoined(Consumer<String> listener) { }
    };

    @BeforeEach
    void deploy() throws Exception {
        vertx = Vertx.vertx();
        StatePaths paths = new StatePaths(state);
        await(vertx.deployVerticle(new RemoteExecutionVerticle(SELF, ALONE, new RepoRegistry(paths, Clock.systemUTC()), state, 1 << 20)));
        await(vertx.deployVerticle(new RemoteTasksVerticle(SELF, ALONE, new TaskStore(paths), state, 1 << 20, "auto")));
        await(vertx.deployVerticle(new ClusterNodeVerticle(SELF, ALONE)));
    }

    @AfterEach
    void close() throws Exception {
        await(vertx.close());
    }

    static Stream<Arguments> malformedRequests() {
        return Stream.of(
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_EXECUTE, SELF), new JsonObject().put("home", "beta")),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_EXECUTE, SELF), "not a json object"),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, SELF), new JsonObject().put("home_task_id", "t-1")
                        .put("type", "task.state").put("bundle", 42)),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_TASK_EVENT, SELF), new JsonObject().put("home_task_id", "t-1")
                        .put("type", "task.state").put("bundle", "%% not base64 %%")),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_RESEND, SELF), "not a json object"),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_CANCEL, SELF), List.of("not", "an", "object")),
                Arguments.of(Addresses.onNode(Addresses.CLUSTER_HAVES, SELF), new JsonObject().put("alias", List.of("x"))),
                Arguments.of(Addresses.CLUSTER_FOLLOW, new JsonObject().put("record", "not a record")),
                Arguments.of(Addresses.CLUSTER_PLACE, new JsonObject()));
    }

    @ParameterizedTest(name = "{0} ← {1}")
    @MethodSource("malformedRequests")
    void aRemoteHandlerThatThrowsAnswersItsCallerWithinOneSecond(String address, Object body) {
        long start = System.nanoTime();
        assertThatThrownBy(() -> await(vertx.eventBus().request(address, body, new DeliveryOptions().setSendTimeout(30_000))))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOfSatisfying(ReplyException.class, e -> {
                    assertThat(e.failureType()).as(e.getMessage()).isEqualTo(ReplyFailure.RECIPIENT_FAILURE);
                    assertThat(e.failureCode()).isBetween(400, 599);
                    assertThat(e.getMessage()).isNotBlank();
                });
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(1_000);
    }

    private static <T> T await(io.vertx.core.Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
}
