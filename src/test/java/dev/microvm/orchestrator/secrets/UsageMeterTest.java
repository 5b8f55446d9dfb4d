package dev.microvm.orchestrator.secrets;

import io.vertx.core.buffer.Buffer;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class UsageMeterTest {

    static final String STREAM = """
            event: message_start
            data: {"type":"message_start","message":{"id":"m","model":"claude-opus-4-1-20250805","usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":1}}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"grüße, 世界 🙂"}}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}

            event: message_stop
            data: {"type":"message_stop"}
            """;

    /** However the network splits the stream (even inside a multi-byte character), the usage is the same. */
    @Property(tries = 100)
    void usageIsReadFromAStreamSplitAnywhere(@ForAll @IntRange(min = 0, max = 10_000) int seed) {
        byte[] bytes = STREAM.getBytes(StandardCharsets.UTF_8);
        UsageMeter meter = new UsageMeter("text/event-stream; charset=utf-8");
        Random random = new Random(seed);
        for (int i = 0; i < bytes.length; ) {
            int n = 1 + random.nextInt(60);
            int end = Math.min(bytes.length, i + n);
            meter.accept(Buffer.buffer().appendBytes(bytes, i, end - i));
            i = end;
        }
        Usage u = meter.finish().orElseThrow();
        assertThat(u).isEqualTo(new Usage("claude-opus-4-1-20250805", 10, 9, 20, 30));
    }

    @Test
    void aJsonResponseIsMeteredFromItsUsageField() {
        UsageMeter meter = new UsageMeter("application/json");
        meter.accept(Buffer.buffer("{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":100,"));
        meter.accept(Buffer.buffer("\"output_tokens\":50}}"));
        Usage u = meter.finish().orElseThrow();
        assertThat(u).isEqualTo(new Usage("claude-haiku-4-5", 100, 50, 0, 0));
        assertThat(u.costUsd()).isCloseTo((100 * 1 + 50 * 5) / 1e6, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void aResponseWithoutUsageYieldsNothing() {
        UsageMeter meter = new UsageMeter("text/event-stream");
        meter.accept(Buffer.buffer("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n"));
        assertThat(meter.finish()).isEmpty();
    }

    @Test
    void pricesFollowTheModelFamily() {
        assertThat(PriceTable.costUsd("claude-opus-4-1-20250805", 1_000_000, 0, 0, 0)).isEqualTo(15.0);
        assertThat(PriceTable.costUsd("claude-opus-4-5", 1_000_000, 0, 0, 0)).isEqualTo(5.0);
        assertThat(PriceTable.costUsd("claude-sonnet-4-5", 0, 1_000_000, 0, 0)).isEqualTo(15.0);
        assertThat(PriceTable.costUsd("claude-3-5-haiku-latest", 1_000_000, 0, 0, 0)).isEqualTo(0.8);
        assertThat(PriceTable.costUsd("some-future-model", 1_000_000, 0, 0, 0)).as("unknown: Sonnet prices").isEqualTo(3.0);
        assertThat(PriceTable.costUsd("claude-sonnet-4", 0, 0, 1_000_000, 1_000_000)).isEqualTo(3 * 1.25 + 3 * 0.1);
    }
}
