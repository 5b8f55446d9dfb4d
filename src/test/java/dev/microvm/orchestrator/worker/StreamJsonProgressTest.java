package dev.microvm.orchestrator.worker;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class StreamJsonProgressTest {

    // Lines as Claude Code writes them with --output-format stream-json --verbose (abridged values).
    static final String INIT = """
            {"type":"system","subtype":"init","cwd":"/workspace","session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","tools":["Task","Bash","Glob","Grep","LS","Read","Edit","Write","TodoWrite"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"bypassPermissions","slash_commands":["compact","cost"],"apiKeySource":"ANTHROPIC_API_KEY","output_style":"default","uuid":"0d6c..."}""";
    static final String TEXT_1 = """
            {"type":"assistant","message":{"id":"msg_01SBk2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"I'll start by looking at the repository layout."}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":1520,"cache_read_input_tokens":11902,"output_tokens":3,"service_tier":"standard"}},"parent_tool_use_id":null,"session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","uuid":"a1"}""";
    static final String TOOL_1 = """
            {"type":"assistant","message":{"id":"msg_01SBk2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use","id":"toolu_01Gq","name":"Bash","input":{"command":"ls -la && cat README.md","description":"List files and read the README"}}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":1520,"cache_read_input_tokens":11902,"output_tokens":3,"service_tier":"standard"}},"parent_tool_use_id":null,"session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","uuid":"a2"}""";
    static final String TOOL_RESULT = """
            {"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_01Gq","type":"tool_result","content":"total 16\\ndrwxr-xr-x 4 agent agent 4096 .\\n-rw-r--r-- 1 agent agent  812 README.md","is_error":false}]},"parent_tool_use_id":null,"session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","uuid":"u1"}""";
    static final String TOOL_2 = """
            {"type":"assistant","message":{"id":"msg_01Tzq9","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"tool_use","id":"toolu_01Hx","name":"Edit","input":{"file_path":"/workspace/src/app.py","old_string":"def f():","new_string":"def f() -> int:"}},{"type":"tool_use","id":"toolu_01Hy","name":"Bash","input":{"command":"pytest -q"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":300,"cache_read_input_tokens":13422,"output_tokens":141,"service_tier":"standard"}},"parent_tool_use_id":null,"session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","uuid":"a3"}""";
    static final String RESULT = """
            {"type":"result","subtype":"success","is_error":false,"duration_ms":18234,"duration_api_ms":16012,"num_turns":5,"result":"Added the return type and the tests pass.","session_id":"5b1c2f7e-9d1a-4c55-8a0e-2f4d7c1e9b30","total_cost_usd":0.04231,"usage":{"input_tokens":12,"cache_creation_input_tokens":2300,"cache_read_input_tokens":40000,"output_tokens":512,"server_tool_use":{"web_search_requests":0},"service_tier":"standard"},"permission_denials":[],"uuid":"r1"}""";

    private static List<JsonObject> feed(StreamJsonProgress p, String... lines) {
        List<JsonObject> out = new ArrayList<>();
        for (String l : lines) p.accept(l).ifPresent(out::add);
        return out;
    }

    @Test
    void progressGrowsTurnByTurnAndEndsWithTheReportedCost() {
        StreamJsonProgress p = new StreamJsonProgress();
        List<JsonObject> updates = feed(p, INIT, TEXT_1, TOOL_1, TOOL_RESULT, TOOL_2, RESULT);

        assertThat(updates).hasSize(5); // the tool result line changes nothing
        assertThat(updates.get(0).getString("model")).isEqualTo("claude-sonnet-4-5-20250929");
        assertThat(updates.get(1).getInteger("turns")).isEqualTo(1);
        assertThat(updates.get(1).getInteger("tool_uses")).isZero();
        assertThat(updates.get(2).getInteger("turns")).isEqualTo(1); // same message, second content block
        assertThat(updates.get(2).getInteger("tool_uses")).isEqualTo(1);
        assertThat(updates.get(2).getString("last_tool")).isEqualTo("Bash");
        assertThat(updates.get(2).containsKey("cost_usd")).isFalse();
        JsonObject running = updates.get(3);
        assertThat(running.getInteger("turns")).isEqualTo(2);
        assertThat(running.getInteger("tool_uses")).isEqualTo(3);
        assertThat(running.getString("last_tool")).isEqualTo("Bash");
        assertThat(running.getLong("output_tokens")).isEqualTo(3 + 141);
        assertThat(running.getBoolean("done")).isFalse();

        JsonObject done = updates.get(4);
        assertThat(done.getInteger("turns")).isEqualTo(5);
        assertThat(done.getDouble("cost_usd")).isEqualTo(0.04231);
        assertThat(done.getBoolean("done")).isTrue();
        assertThat(done.getBoolean("is_error")).isFalse();
        assertThat(done.getString("subtype")).isEqualTo("success");
        assertThat(done.getLong("output_tokens")).isEqualTo(512);
    }

    @Test
    void aRepeatedLineCountsOnce() {
        StreamJsonProgress p = new StreamJsonProgress();
        feed(p, TOOL_1, TOOL_1);
        assertThat(p.accept(TOOL_1)).isEmpty();
        assertThat(p.progress().getInteger("tool_uses")).isEqualTo(1);
        assertThat(p.progress().getInteger("turns")).isEqualTo(1);
    }

    @Test
    void anErrorResultIsReported() {
        StreamJsonProgress p = new StreamJsonProgress();
        Optional<JsonObject> r = p.accept("""
                {"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":900,"num_turns":3,"session_id":"s","total_cost_usd":0.01}""");
        assertThat(r).get().satisfies(j -> {
            assertThat(j.getBoolean("is_error")).isTrue();
            assertThat(j.getString("subtype")).isEqualTo("error_max_turns");
            assertThat(j.getInteger("turns")).isEqualTo(3);
        });
    }

    @Test
    void garbageAndForeignLinesAreIgnored() {
        StreamJsonProgress p = new StreamJsonProgress();
        for (String junk : new String[]{"", "   ", "not json", "[1,2]", "{\"type\":42}", "{\"type\":\"assistant\",\"message\":\"x\"}",
                "{\"type\":\"assistant\"", "{\"type\":\"tool_progress\",\"x\":1}", "npm WARN deprecated foo@1.0.0"}) {
            assertThat(p.accept(junk)).as(junk).isEmpty();
        }
        assertThat(p.progress().getInteger("turns")).isZero();
    }

    @Test
    void nothingTheAgentWroteIsCopiedIntoTheProgress() {
        StreamJsonProgress p = new StreamJsonProgress();
        String sneaky = TOOL_1.replace("\"name\":\"Bash\"", "\"name\":\"sk-ant-api03-" + "A".repeat(120) + "\"");
        JsonObject progress = feed(p, INIT, TEXT_1, sneaky, TOOL_RESULT, RESULT).getLast();
        String encoded = progress.encode();
        assertThat(encoded).doesNotContain("sk-ant").doesNotContain("README").doesNotContain("ls -la")
                .doesNotContain("repository layout").doesNotContain("tests pass");
        assertThat(progress.getInteger("tool_uses")).isEqualTo(1);
    }
}
