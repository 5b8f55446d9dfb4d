package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class SetupResultTest {

    private static final List<String> COMMANDS = List.of("npm ci", "make build");

    @Test
    void theRunnersResultNamesTheFailedCommandAndItsExitCode() {
        assertThat(SetupResult.parse(Optional.of("ok 1234\n"), COMMANDS)).get()
                .isEqualTo(new JsonObject().put("outcome", "ok").put("duration_ms", 1234L).put("commands", 2));
        assertThat(SetupResult.parse(Optional.of("skipped"), COMMANDS).orElseThrow().getString("outcome")).isEqualTo("skipped");
        JsonObject failed = SetupResult.parse(Optional.of("failed 2 3 50"), COMMANDS).orElseThrow();
        assertThat(failed.getString("outcome")).isEqualTo("failed");
        assertThat(failed.getString("command")).isEqualTo("make build");
        assertThat(failed.getInteger("exit_code")).isEqualTo(3);
        assertThat(failed.getString("error")).contains("setup command 2 `make build` exited with code 3").contains("did not start");
        assertThat(SetupResult.parse(Optional.of("failed 0 137 5"), COMMANDS).orElseThrow().getString("error"))
                .contains("could not be ended");
        assertThat(SetupResult.parse(Optional.of("rubbish"), COMMANDS).orElseThrow().getString("outcome")).isEqualTo("unreadable");
        assertThat(SetupResult.parse(Optional.empty(), List.of())).isEmpty();
        assertThat(SetupResult.parse(Optional.empty(), COMMANDS).orElseThrow().getString("outcome")).isEqualTo("not_run");
    }

    @Test
    void nixDevelopIsPartOfSetupAndItsFailureFailsSetup() {
        JsonObject alone = SetupResult.withNixDevelop(Optional.empty(), Optional.of("ok 2100 0 5 1\n")).orElseThrow();
        assertThat(alone.getString("outcome")).isEqualTo("ok");
        assertThat(alone.getInteger("commands")).isZero();
        assertThat(alone.getJsonObject("nix_develop")).isEqualTo(new JsonObject().put("outcome", "ok").put("duration_ms", 2100L)
                .put("store_paths_before", 0L).put("store_paths_after", 5L).put("built", 1L));
        JsonObject withSetup = SetupResult.withNixDevelop(SetupResult.parse(Optional.of("ok 10"), COMMANDS), Optional.of("ok 300 5 5 0")).orElseThrow();
        assertThat(withSetup.getString("outcome")).isEqualTo("ok");
        assertThat(withSetup.getLong("duration_ms")).isEqualTo(10L);
        assertThat(withSetup.getJsonObject("nix_develop").getLong("built")).isZero();

        JsonObject failed = SetupResult.withNixDevelop(SetupResult.parse(Optional.empty(), COMMANDS), Optional.of("failed 1 900")).orElseThrow();
        assertThat(failed.getString("outcome")).isEqualTo("failed");
        assertThat(failed.getString("error")).contains("nix develop").contains("exited with code 1").contains("did not start");
        assertThat(SetupResult.withNixDevelop(Optional.empty(), Optional.of("ok x")).orElseThrow().getString("outcome")).isEqualTo("failed");
        assertThat(SetupResult.withNixDevelop(Optional.empty(), Optional.empty())).isEmpty();
    }

    @Test
    void theCommandsComeFromTheRecordedEnvironment() {
        JsonObject prepared = new JsonObject().put("environment", new JsonObject().put("value",
                new JsonObject().put("setup", new JsonArray().add("a").add("b"))));
        assertThat(SetupResult.commands(prepared)).containsExactly("a", "b");
        assertThat(SetupResult.commands(null)).isEmpty();
        assertThat(SetupResult.commands(new JsonObject())).isEmpty();
    }
}
