package dev.microvm.orchestrator.mcp;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The stdio server as a real process, at the byte level: what it writes to stdout and how it ends. */
class McpProcessTest {

    @TempDir Path state;

    @Test
    void stdout_carries_only_protocol_lines_and_the_process_exits_cleanly_at_end_of_input() throws Exception {
        Process server = new ProcessBuilder(McpHarness.scriptedServerCommand(state))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (OutputStream in = server.getOutputStream()) {
            String init = new JsonObject().put("jsonrpc", "2.0").put("id", 1).put("method", "initialize")
                    .put("params", new JsonObject().put("protocolVersion", "2025-11-25").put("capabilities", new JsonObject())
                            .put("clientInfo", new JsonObject().put("name", "t").put("version", "1"))).encode();
            String lines = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"server/discover\"}\n"
                    + init + "\n"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
                    + "this is not json\n"
                    + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n";
            in.write(lines.getBytes(StandardCharsets.UTF_8));
            in.flush();
            List<JsonObject> out = new ArrayList<>();
            BufferedReader reader = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            while (out.stream().noneMatch(m -> Integer.valueOf(2).equals(m.getValue("id")))) {
                String line = reader.readLine();
                assertThat(line).as("server closed stdout early; got " + out).isNotNull();
                out.add(new JsonObject(line)); // every stdout line must be JSON
            }
            assertThat(out).allSatisfy(m -> assertThat(m.getString("jsonrpc")).isEqualTo("2.0"));
            assertThat(out).anySatisfy(m -> assertThat(m.encode()).contains("-32601")); // server/discover unknown
            assertThat(out).anySatisfy(m -> assertThat(m.encode()).contains("-32700"));
            assertThat(out).anySatisfy(m -> assertThat(m.encode()).contains("\"id\":2").contains("run_task"));
        }
        // stdin is closed now: the server must end by itself, successfully, and quickly
        assertThat(server.waitFor(10, TimeUnit.SECONDS)).as("exit after end of input").isTrue();
        assertThat(server.exitValue()).isZero();
        assertThat(server.getInputStream().readAllBytes()).as("nothing after the protocol lines").isEmpty();
    }
}
