package dev.microvm.orchestrator.config;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StatePathsTest {

    private final StatePaths paths = new StatePaths(Path.of("/tmp/state-root"));

    @Test
    void traversalAndOddIdsAreRefused() {
        for (String bad : new String[]{"../x", "..", "/etc/passwd", "a/b", "A", "x\u0000", "", " t1", "t1\n"}) {
            assertThatThrownBy(() -> paths.taskDir(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("invalid task id");
        }
        assertThatThrownBy(() -> paths.cursorFile("../../x")).hasMessageContaining("invalid caller id");
    }

    @Test
    void slotOneAndSlotTenAreDistinctDirectories() {
        assertThat(paths.slotDir(1)).isNotEqualTo(paths.slotDir(10));
        assertThat(paths.slotDir(10).startsWith(paths.slotDir(1))).isFalse();
    }

    @Property(tries = 300)
    void anyAcceptedIdStaysInsideTheTasksDirectory(@ForAll String id) {
        try {
            Path p = paths.taskDir(id);
            assertThat(p.normalize().startsWith(paths.tasksDir())).isTrue();
            assertThat(p.getParent()).isEqualTo(paths.tasksDir());
        } catch (IllegalArgumentException expected) {
            assertThat(expected).hasMessageContaining("invalid task id");
        }
    }
}
