package dev.microvm.orchestrator.task;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskOptionsTest {

    static Stream<Arguments> badOptions() {
        return Stream.of(
                Arguments.of(new JsonObject().put("timout_seconds", 60),
                        "task options: unknown option 'timout_seconds'; known options: agent_command, allowed_domains, base, cpus, "
                                + "fresh_setup, include_uncommitted, memory_mib, merge_strategy, network, timeout_seconds, untracked_patterns"),
                Arguments.of(new JsonObject().put("cpus", "four"), "task options: option 'cpus' must be an integer between 1 and 64 (got \"four\")"),
                Arguments.of(new JsonObject().put("cpus", 65), "task options: option 'cpus' must be an integer between 1 and 64 (got 65)"),
                Arguments.of(new JsonObject().put("cpus", 2.5), "task options: option 'cpus' must be an integer between 1 and 64 (got 2.5)"),
                Arguments.of(new JsonObject().put("memory_mib", 128), "option 'memory_mib' must be an integer between 256 and 262144 (got 128)"),
                Arguments.of(new JsonObject().put("timeout_seconds", 0), "option 'timeout_seconds' must be an integer between 1 and 604800 (got 0)"),
                Arguments.of(new JsonObject().put("merge_strategy", "yolo"), "option 'merge_strategy' must be one of auto, branch, none (got \"yolo\")"),
                Arguments.of(new JsonObject().put("network", "open"), "option 'network' must be one of full, allowlist, api-only, none (got \"open\")"),
                Arguments.of(new JsonObject().put("include_uncommitted", "yes"), "option 'include_uncommitted' must be true or false (got \"yes\")"),
                Arguments.of(new JsonObject().put("agent_command", ""), "option 'agent_command' must be a non-empty string (got \"\")"),
                Arguments.of(new JsonObject().put("base", "--upload-pack=x"), "option 'base' must be a branch name or commit id (not starting with '-', without '..') (got \"--upload-pack=x\")"),
                Arguments.of(new JsonObject().put("base", "main..evil"), "option 'base' must be a branch name or commit id"),
                Arguments.of(new JsonObject().put("base", "ma\nin"), "option 'base' must be a branch name or commit id"),
                Arguments.of(new JsonObject().put("base", "   "), "option 'base' must be a branch name or commit id"),
                Arguments.of(new JsonObject().put("untracked_patterns", "*.env"), "option 'untracked_patterns' must be a list of non-empty strings, each a relative glob without '..' (got \"*.env\")"),
                Arguments.of(new JsonObject().put("untracked_patterns", new JsonArray().add("/etc/passwd")), "option 'untracked_patterns[0]' must be a relative glob without '..' (got \"/etc/passwd\")"),
                Arguments.of(new JsonObject().put("untracked_patterns", new JsonArray().add(".env").add("../up")), "option 'untracked_patterns[1]' must be a relative glob without '..' (got \"../up\")"),
                Arguments.of(new JsonObject().put("untracked_patterns", new JsonArray().add(7)), "option 'untracked_patterns[0]' must be a relative glob without '..' (got 7)"),
                Arguments.of(new JsonObject().put("allowed_domains", "example.com"), "option 'allowed_domains' must be a list of non-empty strings (got \"example.com\")"),
                Arguments.of(new JsonObject().put("allowed_domains", new JsonArray().add("10.0.0.1")), "allowed_domains: '10.0.0.1' is an IP address"),
                Arguments.of(new JsonObject().put("cpus", (Object) null), "option 'cpus' must be an integer between 1 and 64 (got null)"));
    }

    @ParameterizedTest(name = "{0} is refused with: {1}")
    @MethodSource("badOptions")
    void everyBadOptionIsRefusedWithAMessageNamingItAndWhatItMustBe(JsonObject options, String message) {
        assertThatThrownBy(() -> TaskOptions.fromJson(options)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }

    @Test
    void everyProblemOfOneRequestIsReportedAtOnce() {
        assertThatThrownBy(() -> TaskOptions.fromJson(new JsonObject().put("cpus", 0).put("colour", "red")))
                .hasMessageContaining("unknown option 'colour'").hasMessageContaining("option 'cpus' must be");
    }

    @Test
    void goodOptionsBindAndComeBackAsTheSameJson() {
        JsonObject in = new JsonObject().put("base", "feature/x").put("merge_strategy", "branch").put("timeout_seconds", 600)
                .put("cpus", 2).put("memory_mib", 2048).put("agent_command", "make test").put("include_uncommitted", true)
                .put("untracked_patterns", new JsonArray().add(".env").add("data/*.csv")).put("network", "allowlist")
                .put("allowed_domains", new JsonArray().add("Registry.NPMJS.org."));
        TaskOptions options = TaskOptions.fromJson(in);
        assertThat(options.baseRef()).isEqualTo("feature/x");
        assertThat(options.memoryMiB()).isEqualTo(2048);
        assertThat(options.allowedDomains()).containsExactly("registry.npmjs.org");
        assertThat(options.toJson()).isEqualTo(in.copy().put("allowed_domains", new JsonArray().add("registry.npmjs.org")));
        assertThat(TaskOptions.fromJson(options.toJson())).isEqualTo(options);
    }

    @Test
    void defaultsWriteOnlyWhatIsSet() {
        assertThat(TaskOptions.defaults().toJson())
                .isEqualTo(new JsonObject().put("include_uncommitted", false).put("untracked_patterns", new JsonArray()));
        assertThat(TaskOptions.fromJson(new JsonObject())).isEqualTo(TaskOptions.defaults());
    }

    @Test
    void theSchemaAndTheRecordKnowTheSameOptions() {
        TaskOptions everything = new TaskOptions("main", "auto", 1, 1, 256, "true", true, List.of("a"), "allowlist", List.of("example.com"), true);
        assertThat(everything.toJson().fieldNames()).containsExactlyInAnyOrderElementsOf(TaskOptions.SCHEMA.propertyNames());
        assertThat(TaskOptions.MERGE_STRATEGIES).containsExactlyInAnyOrder("auto", "branch", "none");
    }

    @Test
    void aStoredRecordWithAnOptionFromANewerVersionStillLoads() {
        TaskOptions stored = TaskOptions.fromRecord(new JsonObject().put("cpus", 4).put("gpu", "one"));
        assertThat(stored.cpus()).isEqualTo(4);
    }

    @Test
    void aStoredOrShippedRecordStillObeysTheRules() {
        assertThatThrownBy(() -> TaskOptions.fromRecord(new JsonObject().put("base", "--upload-pack=touch /tmp/x")))
                .hasMessageContaining("option 'base' must be a branch name or commit id");
    }

    @Test
    void requestedOptionsAreTheNestedObjectOrTheKnownOptionsBesideTheRequestFields() {
        JsonObject nested = new JsonObject().put("repo", "r").put("options", new JsonObject().put("cpus", 2).put("colour", "red"));
        assertThat(TaskOptions.requested(nested)).isEqualTo(new JsonObject().put("cpus", 2).put("colour", "red"));
        JsonObject flat = new JsonObject().put("repo", "r").put("description", "d").put("caller", "c").put("accept_before", 1L)
                .put("task_id", "t-1").put("prompt", "p").put("cpus", 2).put("network", "none");
        assertThat(TaskOptions.requested(flat)).isEqualTo(new JsonObject().put("cpus", 2).put("network", "none"));
    }

    @Property(tries = 300)
    void anyKeyTheSchemaDoesNotKnowIsRefusedByName(@ForAll("keys") String key) {
        JsonObject options = new JsonObject().put(key, 1);
        if (TaskOptions.SCHEMA.propertyNames().contains(key)) return;
        assertThatThrownBy(() -> TaskOptions.fromJson(options)).hasMessageContaining("unknown option '" + key + "'");
    }

    @Property(tries = 300)
    void cpusAreAcceptedExactlyFromOneToSixtyFour(@ForAll int cpus) {
        JsonObject options = new JsonObject().put("cpus", cpus);
        if (cpus >= 1 && cpus <= 64) assertThat(TaskOptions.fromJson(options).cpus()).isEqualTo(cpus);
        else assertThatThrownBy(() -> TaskOptions.fromJson(options))
                .hasMessage("task options: option 'cpus' must be an integer between 1 and 64 (got " + cpus + ")");
    }

    /** The schema's pattern says what the hand-written check said before it: no option, no range, no control character. */
    @Property(tries = 1000)
    void aBaseIsAcceptedExactlyWhenItIsNoOptionNoRangeAndNoControlCharacter(@ForAll("refs") String base) {
        boolean safe = !base.isBlank() && !base.startsWith("-") && !base.contains("..") && base.chars().noneMatch(c -> c < 0x20);
        assertThat(TaskOptions.SCHEMA.violations(new JsonObject().put("base", base), "t")).as(base).hasSize(safe ? 0 : 1);
    }

    @Property(tries = 1000)
    void anUntrackedPatternIsAcceptedExactlyWhenItIsRelativeWithoutDotDot(@ForAll("refs") String pattern) {
        boolean safe = !pattern.isBlank() && !pattern.startsWith("/") && !pattern.contains("..") && pattern.indexOf('\0') < 0;
        JsonObject options = new JsonObject().put("untracked_patterns", new JsonArray().add(pattern));
        assertThat(TaskOptions.SCHEMA.violations(options, "t")).as(pattern).hasSize(safe ? 0 : 1);
    }

    @Provide
    Arbitrary<String> keys() {
        return Arbitraries.oneOf(Arbitraries.strings().alpha().withChars('_').ofMinLength(1).ofMaxLength(20),
                Arbitraries.of(TaskOptions.SCHEMA.propertyNames()).map(k -> k.substring(0, k.length() - 1)));
    }

    @Provide
    Arbitrary<String> refs() {
        return Arbitraries.strings().withChars("ab-./ \t\n\0*").withCharRange('\u0001', '\u0003').ofMaxLength(8);
    }
}
