package dev.microvm.orchestrator.cluster;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;

import java.util.function.Supplier;

/** On the executing host: what a shadow task runs for — a task of another (home) host, on a shipped base. */
final class Shadow {

    final String home;
    final String homeTaskId;
    final RepoKey key;
    final String baseCommit;
    private Future<?> forwarded = Future.succeededFuture();

    Shadow(String home, String homeTaskId, RepoKey key, String baseCommit) {
        this.home = home;
        this.homeTaskId = homeTaskId;
        this.key = key;
        this.baseCommit = baseCommit;
    }

    boolean runsFor(String home, String homeTaskId) {
        return this.home.equals(home) && this.homeTaskId.equals(homeTaskId);
    }

    /** Runs {@code send} once every event sent before it has been answered (or failed): events reach home in order. */
    Future<JsonObject> inOrder(Supplier<Future<JsonObject>> send) {
        Future<JsonObject> f = forwarded.transform(x -> send.get());
        forwarded = f;
        return f;
    }

    JsonObject toJson() {
        return new JsonObject().put("home", home).put("home_task_id", homeTaskId).put("alias", key.alias()).put("base_commit", baseCommit);
    }

    static Shadow fromJson(JsonObject j) {
        return new Shadow(j.getString("home"), j.getString("home_task_id"), new RepoKey(j.getString("home"), j.getString("alias")),
                j.getString("base_commit"));
    }
}
