package dev.microvm.orchestrator.task;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** The outcome policy as a table: every row is one combination of facts and the state it leads to. */
class OutcomePolicyTest {

    @ParameterizedTest(name = "exit {0}, merged {1}, commits {2}, merge reason {3}, strategy {4} → {5} {6}")
    @CsvSource(nullValues = "-", value = {
            // exit, merged, commits, merge reason, strategy, state,     reason
            "0,      true,   3,       -,            auto,     COMPLETED, -",
            "-,      true,   3,       -,            auto,     COMPLETED, -",
            "0,      false,  0,       no_commits,   auto,     COMPLETED, -",
            "0,      false,  2,       conflicts,    auto,     FAILED,    conflicts",
            "0,      false,  2,       dirty_worktree, auto,   FAILED,    dirty_worktree",
            "0,      false,  2,       -,            auto,     FAILED,    merge_failed",
            "0,      false,  2,       not_merged,   none,     COMPLETED, -",
            "0,      false,  2,       branch_exists, branch,  COMPLETED, -",
            "1,      true,   3,       -,            auto,     FAILED,    agent_failed",
            "2,      false,  0,       no_commits,   none,     FAILED,    agent_failed",
            "1,      false,  2,       conflicts,    auto,     FAILED,    agent_failed",
    })
    void afterTheMergeTheAgentAndTheMergeDecide(Integer exit, boolean merged, int commits, String mergeReason, String strategy,
                                                TaskState state, String reason) {
        JsonObject merge = new JsonObject().put("merged", merged).put("commits", commits).put("reason", mergeReason);
        OutcomePolicy.Outcome o = OutcomePolicy.afterMerge("t1", exit, null, merge, strategy);
        assertThat(o.state()).isEqualTo(state);
        assertThat(o.reason()).isEqualTo(FailureReason.fromWire(reason));
        if (state == TaskState.FAILED) assertThat(o.error()).isNotBlank();
        else assertThat(o.error()).isNull();
    }

    @ParameterizedTest(name = "cancel {0}, commits {1}, collect reason {2} → {3} {4}")
    @CsvSource(nullValues = "-", value = {
            // cancel, commits, collect reason,       state,     reason
            "true,     0,       -,                    CANCELLED, cancelled",
            "true,     2,       guest_incomplete,     CANCELLED, cancelled",
            "false,    0,       guest_incomplete,     FAILED,    guest_incomplete",
            "false,    1,       guest_output_invalid, FAILED,    guest_output_invalid",
            "false,    1,       -,                    -,         -",
    })
    void afterCollectingACancelOrAProblemEndsTheTaskWithoutAMerge(boolean cancel, int commits, String collectReason,
                                                                TaskState state, String reason) {
        var o = OutcomePolicy.afterCollect("t1", cancel, commits, collectReason, "why");
        if (state == null) {
            assertThat(o).isEmpty();
            return;
        }
        assertThat(o).get().extracting(OutcomePolicy.Outcome::state).isEqualTo(state);
        assertThat(o.get().reason()).isEqualTo(FailureReason.fromWire(reason));
        if (cancel) assertThat(o.get().error()).isEqualTo(commits > 0 ? "cancelled; the agent's commits are kept on refs/tasks/t1" : "cancelled");
    }

    @ParameterizedTest(name = "{0}, cancel {1} → {2}")
    @CsvSource({
            "vm_lost,        false, FAILED",
            "vm_lost,        true,  CANCELLED",
            "timeout,        true,  FAILED",
            "persist_failed, true,  CANCELLED",
            "timeout,        false, FAILED",
    })
    void aFailureOnTheWayEndsFailedUnlessACancelCameFirst(String reason, boolean cancel, TaskState state) {
        assertThat(OutcomePolicy.afterFailure(FailureReason.fromWire(reason), cancel)).isEqualTo(state);
    }

    @org.junit.jupiter.api.Test
    void anAgentThatFailedIsDescribedInItsOwnWordsWhenItLeftSome() {
        var o = OutcomePolicy.afterMerge("t1", 3, "the agent ran out of turns", new JsonObject().put("merged", true), "auto");
        assertThat(o.error()).isEqualTo("the agent ran out of turns");
        assertThat(OutcomePolicy.afterMerge("t1", 3, null, new JsonObject().put("merged", true), "auto").error())
                .isEqualTo("the agent exited with code 3");
    }
}
