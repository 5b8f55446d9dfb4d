package dev.microvm.orchestrator.mcp;

import dev.microvm.orchestrator.config.StatePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

class CursorStoreTest {

    @TempDir Path root;

    @Test
    void a_cursor_only_moves_forward_and_only_when_the_claim_is_granted() {
        StatePaths paths = new StatePaths(root);
        CursorStore store = new CursorStore(paths, Clock.systemUTC());
        assertThat(store.read("session-x")).isEqualTo(-1);
        assertThat(store.readOrCreate("session-x", 7)).isEqualTo(7);
        assertThat(store.readOrCreate("session-x", 99)).isEqualTo(7);
        assertThat(store.advance("session-x", 5, () -> true)).isFalse();
        assertThat(store.advance("session-x", 9, () -> false)).isFalse();
        assertThat(store.read("session-x")).isEqualTo(7);
        assertThat(store.advance("session-x", 9, () -> true)).isTrue();
        assertThat(new CursorStore(paths, Clock.systemUTC()).read("session-x")).isEqualTo(9);
    }

    @Test
    void an_unreadable_cursor_counts_as_missing() throws Exception {
        StatePaths paths = new StatePaths(root);
        Files.createDirectories(paths.cursorsDir());
        Files.writeString(paths.cursorFile("session-y"), "{torn");
        assertThat(new CursorStore(paths, Clock.systemUTC()).read("session-y")).isEqualTo(-1);
    }
}
