package dev.microvm.orchestrator.worker;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class AgentExitTest {

    @Test
    void success_is_no_error() {
        assertThat(AgentExit.describe(0, null, "claude", "{\"type\":\"result\"}")).isNull();
        assertThat(AgentExit.describe(null, null, "claude", "")).isNull();
    }

    @Test
    void what_the_runner_reported_wins() {
        assertThat(AgentExit.describe(127, "agent `claude` not found in guest image debian-12-scripted", "claude", ""))
                .isEqualTo("agent `claude` not found in guest image debian-12-scripted");
    }

    @Test
    void an_illegal_instruction_names_the_cpu_model() {
        assertThat(AgentExit.describe(132, null, "claude", "")).startsWith("illegal instruction: the guest CPU model lacks")
                .contains("`claude`").contains("max");
    }

    @Test
    void a_crash_before_any_output_is_a_crash_at_start_and_a_later_signal_is_not() {
        assertThat(AgentExit.describe(139, null, "claude", "")).contains("crashed at start").contains("SIGSEGV");
        assertThat(AgentExit.describe(143, null, "claude", "{\"type\":\"system\"}\n")).contains("killed by a signal").contains("SIGTERM");
    }

    @Test
    void a_loader_failure_quotes_the_agents_last_words() {
        assertThat(AgentExit.describe(127, null, "claude", "claude: error while loading shared libraries: librt.so.1\n"))
                .isEqualTo("the agent `claude` failed at start (exit 127): claude: error while loading shared libraries: librt.so.1");
        assertThat(AgentExit.describe(127, null, "claude", "")).isEqualTo("agent `claude` not found in the guest (exit 127)");
    }

    @Test
    void a_scripted_agent_keeps_the_plain_exit_code() {
        assertThat(AgentExit.describe(3, null, "agent_command", "boom\n")).isEqualTo("the agent exited with code 3");
    }
}
