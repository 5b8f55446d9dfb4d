package dev.microvm.orchestrator.vm;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ProcessIdentityTest {

    @Test
    void a_start_time_read_by_another_jvm_may_be_a_boot_time_rounding_off() {
        assertThat(ProcessIdentity.sameStart("1764110000000", "1764110000000")).isTrue();
        assertThat(ProcessIdentity.sameStart("1764110000000", "1764110001000")).as("btime one second off").isTrue();
        assertThat(ProcessIdentity.sameStart("1764110000000", "1764109999000")).isTrue();
        assertThat(ProcessIdentity.sameStart("1764110000000", "1764110002000")).as("another process").isFalse();
        assertThat(ProcessIdentity.sameStart("1764110000000", null)).isFalse();
        assertThat(ProcessIdentity.sameStart(null, "1764110000000")).isFalse();
        assertThat(ProcessIdentity.sameStart("opaque", "opaque")).isTrue();
    }

    @Test
    void this_process_is_found_by_its_recorded_start_and_not_by_a_wrong_one() {
        long pid = ProcessHandle.current().pid();
        String start = ProcessIdentity.startTime(pid).orElseThrow();
        assertThat(ProcessIdentity.find(pid, start)).isPresent();
        assertThat(ProcessIdentity.find(pid, Long.toString(Long.parseLong(start) - 60_000))).isEmpty();
        assertThat(ProcessIdentity.find(pid, null)).isEmpty();
    }
}
