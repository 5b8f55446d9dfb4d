package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class StdinGuardTest {

    final ByteArrayOutputStream written = new ByteArrayOutputStream();
    final List<String> cancelled = new ArrayList<>();
    final AtomicInteger eofs = new AtomicInteger();

    String passThrough(String input) throws Exception {
        StdinGuard guard = new StdinGuard(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new StdoutLines(written), cancelled::add, eofs::incrementAndGet);
        String out = new String(guard.readAllBytes(), StandardCharsets.UTF_8);
        assertThat(guard.read()).isEqualTo(-1);
        return out;
    }

    List<JsonObject> errorsWritten() {
        return written.toString(StandardCharsets.UTF_8).lines().map(JsonObject::new).toList();
    }

    @Test
    void valid_messages_pass_unchanged_and_end_of_input_is_signalled_once() throws Exception {
        String ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
        String response = "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}";
        assertThat(passThrough(ping + "\r\n\n" + response)).isEqualTo(ping + "\n" + response + "\n");
        assertThat(eofs.get()).isEqualTo(1);
        assertThat(written.size()).isZero();
    }

    @Test
    void malformed_lines_are_answered_and_dropped() throws Exception {
        String out = passThrough("{oops\n42\n[{\"jsonrpc\":\"2.0\"}]\n{\"jsonrpc\":\"2.0\",\"id\":3}\n{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}\n");
        assertThat(out).isEmpty();
        List<JsonObject> errors = errorsWritten();
        assertThat(errors).extracting(e -> e.getJsonObject("error").getInteger("code")).containsExactly(-32700, -32600, -32600, -32600, -32600);
        assertThat(errors.get(0).containsKey("id")).isTrue();
        assertThat(errors.get(0).getValue("id")).isNull();
        assertThat(errors.get(3).getInteger("id")).isEqualTo(3);
    }

    @Test
    void cancellation_is_routed_here_and_not_passed_on() throws Exception {
        String out = passThrough("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":7}}\n"
                + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"abc\"}}\n");
        assertThat(out).isEmpty();
        assertThat(cancelled).containsExactly("7", "\"abc\"");
    }

    @Test
    void tool_calls_carry_their_request_id_in_meta() throws Exception {
        String out = passThrough("{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"x\",\"_meta\":{\"progressToken\":12}}}\n");
        JsonObject meta = new JsonObject(out).getJsonObject("params").getJsonObject("_meta");
        assertThat(meta.getString(StdinGuard.REQUEST_ID_META)).isEqualTo("12");
        assertThat(meta.getInteger("progressToken")).isEqualTo(12);
    }

    @Test
    void output_lines_from_two_writers_never_interleave() throws Exception {
        StdoutLines lines = new StdoutLines(written);
        lines.write("{\"a\":".getBytes(StandardCharsets.UTF_8));
        lines.writeLine("{\"error\":1}");
        lines.write("1}".getBytes(StandardCharsets.UTF_8));
        lines.write("\n".getBytes(StandardCharsets.UTF_8));
        assertThat(written.toString(StandardCharsets.UTF_8)).isEqualTo("{\"error\":1}\n{\"a\":1}\n");
    }
}
