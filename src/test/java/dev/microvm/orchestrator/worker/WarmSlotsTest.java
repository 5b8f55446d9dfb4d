package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.task.TaskOptions;
import dev.microvm.orchestrator.task.TaskRecord;
import dev.microvm.orchestrator.testing.GitRepos;
import dev.microvm.orchestrator.vm.GuestContract;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The host's half of warm slots on a real repository: which image a task gets, when setup is skipped, when the key is kept. */
class WarmSlotsTest {

    @TempDir Path tmp;

    static final String ENV = "{\"setup\": [\"npm ci\"], \"cache\": [\"node_modules\", \"~/.npm\"], \"setup_inputs\": [\"package-lock.json\"]}";
    static final Optional<JsonObject> OK = Optional.of(new JsonObject().put("outcome", "ok"));

    private Path repo;
    private WarmSlots warm;

    private void setUp() throws Exception {
        repo = GitRepos.create(tmp.resolve("app"));
        Files.writeString(repo.resolve("package-lock.json"), "{\"v\": 1}\n");
        GitRepos.git(repo, "add", ".");
        GitRepos.git(repo, "commit", "-q", "-m", "lock");
        warm = new WarmSlots(new StatePaths(tmp.resolve("state")), 64L << 20, Clock.fixed(Instant.parse("2026-12-05T01:00:00Z"), ZoneOffset.UTC));
    }

    private TaskRecord task(JsonObject options) {
        return TaskRecord.queued("t1", "app", repo.toString(), "d", "c", "n", TaskOptions.fromJson(options), null, "now").withSlot(0);
    }

    private WarmSlots.Plan plan(TaskRecord r, String environment) throws Exception {
        Environment env = environment == null ? Environment.none() : Environment.parse(environment, "test");
        return warm.plan(r, env, false, GitRepos.git(repo, "rev-parse", "HEAD"), Optional.empty());
    }

    @Test
    void setupRunsUntilASucceededRunIsRecordedThenIsSkippedUntilAnInputChangesOrAFreshSetupIsAsked() throws Exception {
        setUp();
        TaskRecord r = task(new JsonObject());
        WarmSlots.Plan cold = plan(r, ENV);
        assertThat(cold.env()).containsEntry(GuestContract.ENV_CACHE_PATHS, "node_modules\n~/.npm").doesNotContainKey(GuestContract.ENV_SETUP_SKIP);
        assertThat(cold.prepared().getBoolean("setup_skipped")).isFalse();
        Path image = Path.of(cold.prepared().getString("cache_image"));
        assertThat(image).exists().hasParent(tmp.resolve("state/slots/0/cache"));
        assertThat(Files.size(image)).isEqualTo(64L << 20);

        TaskRecord ran = r.withPrepared(cold.prepared());
        assertThat(warm.recordIfSetupSucceeded(ran, Optional.of(new JsonObject().put("outcome", "failed")))).isFalse();
        assertThat(warm.recordIfSetupSucceeded(ran, Optional.empty())).isFalse();
        assertThat(plan(r, ENV).env()).as("a failed setup keeps no key").doesNotContainKey(GuestContract.ENV_SETUP_SKIP);
        assertThat(warm.recordIfSetupSucceeded(ran, OK)).isTrue();

        WarmSlots.Plan warmPlan = plan(r, ENV);
        assertThat(warmPlan.env()).containsEntry(GuestContract.ENV_SETUP_SKIP, "1");
        assertThat(warmPlan.prepared().getString("setup_key")).isEqualTo(cold.prepared().getString("setup_key"));
        assertThat(warm.recordIfSetupSucceeded(r.withPrepared(warmPlan.prepared()), OK)).as("a skipped setup records nothing").isFalse();

        assertThat(plan(task(new JsonObject().put("fresh_setup", true)), ENV).env()).doesNotContainKey(GuestContract.ENV_SETUP_SKIP);
        assertThat(plan(r, ENV.replace("npm ci", "npm install")).env()).as("another environment").doesNotContainKey(GuestContract.ENV_SETUP_SKIP);

        Files.writeString(repo.resolve("package-lock.json"), "{\"v\": 2}\n");
        GitRepos.git(repo, "commit", "-q", "-am", "new lock");
        assertThat(plan(r, ENV).env()).as("a changed setup input").doesNotContainKey(GuestContract.ENV_SETUP_SKIP);
    }

    @Test
    void aRepositoryWithoutSetupOrCachesGetsNoImage() throws Exception {
        setUp();
        WarmSlots.Plan none = plan(task(new JsonObject()), null);
        assertThat(none.env()).isEmpty();
        assertThat(none.prepared().isEmpty()).isTrue();
        assertThat(plan(task(new JsonObject()), "{\"env\": {\"A\": \"1\"}}").prepared().isEmpty()).isTrue();
        assertThat(tmp.resolve("state/slots/0/cache")).doesNotExist();
    }
}
