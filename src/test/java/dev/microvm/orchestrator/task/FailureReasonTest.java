package dev.microvm.orchestrator.task;

import dev.microvm.orchestrator.config.StatePaths;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

class FailureReasonTest {

    @TempDir Path tmp;

    @Test
    void everyReasonHasItsOwnCodeAndWireNameAndBothLeadBackToIt() {
        Set<Integer> codes = Arrays.stream(FailureReason.values()).map(FailureReason::code).collect(Collectors.toSet());
        assertThat(codes).hasSize(FailureReason.values().length);
        for (FailureReason r : FailureReason.values()) {
            assertThat(r.code()).isBetween(FailureReason.FIRST_CODE, FailureReason.LAST_CODE);
            assertThat(FailureReason.fromWire(r.wireName())).isEqualTo(r);
            assertThat(FailureReason.fromCode(r.code())).contains(r);
        }
        assertThat(FailureReason.PERSIST_FAILED.wireName()).isEqualTo("persist_failed");
        assertThat(FailureReason.fromCode(500)).isEmpty();
        assertThat(FailureReason.fromWire("no_such_reason")).isEqualTo(FailureReason.UNKNOWN);
        assertThat(FailureReason.fromWire(null)).isNull();
    }

    /**
     * The rooms below the lifecycle name their reasons as text (vm, git: {@code ReasonedException},
     * merge results): every such name in the product's sources must be a reason this version knows,
     * or a task failing with it would be recorded as {@code unknown}.
     */
    @Test
    void everyReasonNamedBelowTheLifecycleIsAKnownReason() throws Exception {
        java.util.regex.Pattern named = java.util.regex.Pattern.compile(
                "(?:VmException|GitTaskException)\\(\"([a-z_]+)\"");
        Set<String> found = new java.util.TreeSet<>();
        try (var files = Files.walk(Path.of("src/main/java/dev/microvm/orchestrator"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                var m = named.matcher(Files.readString(f));
                while (m.find()) {
                    found.add(m.group(1));
                }
            }
        }
        for (String doc : java.util.List.of("no_commits", "conflicts", "dirty_worktree", "base_branch_missing", "base_not_a_branch",
                "branch_exists", "repository_busy", "concurrent_update", "not_merged", "already_merged", "checked_out_in_other_worktree",
                "kvm_failed", "guest_incomplete", "guest_output_invalid")) {
            found.add(doc); // merge results and the QEMU/collect reasons given through constants
        }
        assertThat(found).hasSizeGreaterThan(25);
        assertThat(found.stream().filter(n -> FailureReason.fromWire(n) == FailureReason.UNKNOWN).toList()).as("reasons this version does not know").isEmpty();
    }

    @Test
    void aRecordOnDiskWithAReasonThisVersionDoesNotKnowStillLoadsAndKeepsTheName() throws Exception {
        StatePaths paths = new StatePaths(tmp);
        TaskRecord written = TaskRecord.queued("t-old", "project", "/repo", "do it", "me", "node", TaskOptions.defaults(), null, "2026-01-01T00:00:00Z")
                .moveTo(TaskState.FAILED, "2026-01-01T00:01:00Z").withFailure("reason_from_a_newer_version", "it failed");
        Files.createDirectories(paths.taskDir("t-old"));
        Files.writeString(paths.taskDir("t-old").resolve("task.json"), written.toJson().encodePrettily());

        TaskRecord loaded = new TaskStore(paths).load("t-old").orElseThrow();

        assertThat(loaded.reason()).isEqualTo("reason_from_a_newer_version");
        assertThat(loaded.failureReason()).isEqualTo(FailureReason.UNKNOWN);
        assertThat(loaded.toJson().getString("reason")).isEqualTo("reason_from_a_newer_version");
        assertThat(TaskRecord.fromJson(new JsonObject(Files.readString(paths.taskDir("t-old").resolve("task.json")))).error()).isEqualTo("it failed");
    }

    @Test
    void aReplyFailedWithAReasonCodeDecodesToThatReasonAndAnythingElseToTheFallback() {
        TaskFailure coded = TaskFailure.of(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, FailureReason.BOOT_TIMEOUT.code(), "no runner after 180 s"),
                FailureReason.START_FAILED);
        assertThat(coded.reason()).isEqualTo(FailureReason.BOOT_TIMEOUT);
        assertThat(coded.getMessage()).isEqualTo("no runner after 180 s");
        assertThat(coded.display()).isEqualTo("[boot_timeout] no runner after 180 s");

        TaskFailure plain = TaskFailure.of(new ReplyException(ReplyFailure.RECIPIENT_FAILURE, 500, "[boot_timeout] text is not parsed"),
                FailureReason.START_FAILED);
        assertThat(plain.reason()).isEqualTo(FailureReason.START_FAILED);

        TaskFailure timedOut = TaskFailure.of(new ReplyException(ReplyFailure.TIMEOUT, -1, "timed out"), FailureReason.VM_FAILED);
        assertThat(timedOut.reason()).isEqualTo(FailureReason.VM_FAILED);
        assertThat(TaskFailure.of(new TaskFailure(FailureReason.NO_CREDENTIALS, "none"), FailureReason.START_FAILED).reason())
                .isEqualTo(FailureReason.NO_CREDENTIALS);
    }
}
