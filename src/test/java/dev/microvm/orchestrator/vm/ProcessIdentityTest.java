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

    @Test
    void an_exited_but_unreaped_process_is_gone() throws Exception {
        // the outer shell execs into a sleep that never waits for its own short-lived child:
        // that child stays a zombie until the outer sleep ends
        Process outer = new ProcessBuilder("sh", "-c", "sleep 0.2 & exec sleep 30").start();
        try {
            ProcessHandle child = null;
            for (int i = 0; i < 100 && child == null; i++) {
                child = outer.toHandle().children().findFirst().orElse(null);
                if (child == null) Thread.sleep(10);
            }
            assertThat(child).as("the short-lived child").isNotNull();
            String start = ProcessIdentity.startTime(child.pid()).orElseThrow();
            assertThat(ProcessIdentity.find(child.pid(), start)).as("running").isPresent();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!ProcessIdentity.exited(child.pid()) && System.nanoTime() < deadline) Thread.sleep(20);
            assertThat(ProcessIdentity.exited(child.pid())).as("a zombie now").isTrue();
            assertThat(child.isAlive()).as("the JDK still calls it alive").isTrue();
            assertThat(ProcessIdentity.find(child.pid(), start)).as("but it is gone").isEmpty();
        } finally {
            outer.destroyForcibly().waitFor();
        }
    }
}
