package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonArray;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ConsoleSliceTest {

    private static ConsoleSlice.Result slice(String text, boolean full, boolean ended) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return ConsoleSlice.of(b, b.length, full, ended);
    }

    /** Joins entries back into lines using {@code continues}. */
    private static List<String> joined(List<ConsoleSlice.Result> results) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (ConsoleSlice.Result r : results) {
            for (int i = 0; i < r.lines().size(); i++) {
                current.append(r.lines().getString(i));
                if (!r.continues().contains(i)) {
                    out.add(current.toString());
                    current.setLength(0);
                }
            }
        }
        if (!current.isEmpty()) out.add(current + "<unfinished>");
        return out;
    }

    @Test
    void aLongLineIsSplitIntoMarkedPiecesAndNothingIsCut() {
        String longLine = "\\".repeat(4_500);
        ConsoleSlice.Result r = slice("before\n" + longLine + "\nafter\n", false, false);
        assertThat(r.lines()).hasSize(5);
        assertThat(r.lines().getString(1)).hasSize(ConsoleSlice.MAX_PIECE_CHARS);
        assertThat(r.continues()).isEqualTo(new JsonArray().add(1).add(2));
        assertThat(joined(List.of(r))).containsExactly("before", longLine, "after");
    }

    @Test
    void aSliceStopsAtTheEntryCapAndTheRestComesNextInsteadOfBeingDropped() {
        byte[] b = "line\n".repeat(450).getBytes(StandardCharsets.UTF_8);
        List<ConsoleSlice.Result> results = new ArrayList<>();
        int offset = 0;
        while (offset < b.length) {
            byte[] rest = java.util.Arrays.copyOfRange(b, offset, b.length);
            ConsoleSlice.Result r = ConsoleSlice.of(rest, rest.length, false, false);
            assertThat(r.lines().size()).isLessThanOrEqualTo(ConsoleSlice.MAX_ENTRIES);
            results.add(r);
            offset += r.consumed();
        }
        assertThat(results).hasSize(3);
        assertThat(joined(results)).hasSize(450);
    }

    @Test
    void aLineLongerThanTheSliceGoesOnInTheNextSliceWithoutBreakingACharacter() {
        byte[] b = ("é".repeat(40_000) + "\n").getBytes(StandardCharsets.UTF_8); // 80,001 bytes
        int cap = 64 * 1024 + 1; // odd: the cut would fall inside a character
        ConsoleSlice.Result first = ConsoleSlice.of(b, cap, true, false);
        assertThat(first.consumed()).isEqualTo(64 * 1024);
        assertThat(first.continues()).contains(first.lines().size() - 1);
        byte[] rest = java.util.Arrays.copyOfRange(b, first.consumed(), b.length);
        ConsoleSlice.Result second = ConsoleSlice.of(rest, rest.length, false, false);
        assertThat(joined(List.of(first, second))).containsExactly("é".repeat(40_000));
    }

    @Test
    void theRunnersSkipNoticeEndsTheSliceAndReportsTheSkippedBytes() {
        String head = "a\nmvo-runner: 1234567 bytes of agent output not shown here (agent.log has them)\n";
        ConsoleSlice.Result r = slice(head + "b\n", false, false);
        assertThat(r.skippedBytes()).hasValue(1_234_567L);
        assertThat(r.lines()).hasSize(2);
        assertThat(r.consumed()).isEqualTo(head.length());
    }

    @Test
    void anUnfinishedLastLineWaitsWhileTheVmRunsAndCountsOnceItEnded() {
        assertThat(slice("done\npartial", false, false).consumed()).isEqualTo(5);
        ConsoleSlice.Result ended = slice("done\npartial", false, true);
        assertThat(ended.consumed()).isEqualTo(12);
        assertThat(joined(List.of(ended))).containsExactly("done", "partial");
    }
}
