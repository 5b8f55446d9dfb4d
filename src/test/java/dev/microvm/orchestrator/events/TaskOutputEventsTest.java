package dev.microvm.orchestrator.events;

import io.vertx.core.json.JsonArray;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TaskOutputEventsTest {

    @Test
    void linesSplitAcrossChunksArriveWholeAndOnce() {
        TaskOutputEvents out = new TaskOutputEvents("console", false);
        assertThat(out.accept("[    0.81] guest ker")).isEmpty();
        List<TaskOutputEvents.Pending> events = out.accept("nel up\n[    2.14] runner: ready\nrunner: sta");
        assertThat(events).hasSize(1);
        assertThat(events.getFirst().type()).isEqualTo(EventTypes.TASK_LOG);
        assertThat(events.getFirst().data().getString("stream")).isEqualTo("console");
        assertThat(events.getFirst().data().getJsonArray("lines")).isEqualTo(new JsonArray().add("[    0.81] guest kernel up").add("[    2.14] runner: ready"));
        assertThat(out.finish().getFirst().data().getJsonArray("lines")).isEqualTo(new JsonArray().add("runner: sta"));
        assertThat(out.finish()).isEmpty();
    }

    @Test
    void terminalEscapesAndControlCharactersAreRemovedAndLongLinesCut() {
        assertThat(TaskOutputEvents.clean("\u001B[1;32mPASS\u001B[0m tests\r")).isEqualTo("PASS tests");
        assertThat(TaskOutputEvents.clean("\u001B]0;title\u0007prompt")).isEqualTo("prompt");
        assertThat(TaskOutputEvents.clean(" 10%\r 50%\r100% done")).isEqualTo("100% done");
        assertThat(TaskOutputEvents.clean("a\u0000b\u0008c\u007Fd\te")).isEqualTo("abcd\te");
        assertThat(TaskOutputEvents.clean("x".repeat(10_000))).hasSize(TaskOutputEvents.MAX_LINE_CHARS + " …[cut]".length());
    }

    @Test
    void manyLinesAreSpreadOverBoundedEvents() {
        TaskOutputEvents out = new TaskOutputEvents("console", false);
        List<TaskOutputEvents.Pending> events = out.accept("line\n".repeat(450));
        assertThat(events).extracting(e -> e.data().getJsonArray("lines").size()).containsExactly(200, 200, 50);
    }

    @Test
    void agentOutputAlsoYieldsItsProgressOncePerChunk() {
        TaskOutputEvents out = new TaskOutputEvents("agent", true);
        String chunk = String.join("\n", StreamJsonProgressTest.INIT, StreamJsonProgressTest.TEXT_1, StreamJsonProgressTest.TOOL_1,
                StreamJsonProgressTest.TOOL_RESULT, StreamJsonProgressTest.TOOL_2) + "\n";
        List<TaskOutputEvents.Pending> events = out.accept(chunk);
        assertThat(events).extracting(TaskOutputEvents.Pending::type).containsExactly(EventTypes.TASK_LOG, EventTypes.TASK_PROGRESS);
        assertThat(events.get(1).data().getInteger("tool_uses")).isEqualTo(3);
        assertThat(events.get(1).data().getString("last_tool")).isEqualTo("Bash");
        List<TaskOutputEvents.Pending> end = out.accept(StreamJsonProgressTest.RESULT + "\n");
        assertThat(end.get(1).data().getDouble("cost_usd")).isEqualTo(0.04231);
        assertThat(end.get(1).data().getBoolean("done")).isTrue();
    }

    @Test
    void aLongStreamJsonLineArrivingInPiecesStillCountsAsAToolUse() {
        TaskOutputEvents out = new TaskOutputEvents("agent", true);
        String big = StreamJsonProgressTest.TOOL_1.replace("ls -la && cat README.md", "echo " + "y".repeat(100_000));
        for (int i = 0; i < big.length(); i += 8192) {
            assertThat(out.accept(big.substring(i, Math.min(big.length(), i + 8192)))).isEmpty();
        }
        List<TaskOutputEvents.Pending> events = out.accept("\n");
        assertThat(events.getLast().type()).isEqualTo(EventTypes.TASK_PROGRESS);
        assertThat(events.getLast().data().getInteger("tool_uses")).isEqualTo(1);
    }
}
