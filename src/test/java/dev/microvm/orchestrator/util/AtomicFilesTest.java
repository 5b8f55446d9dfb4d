package dev.microvm.orchestrator.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @Test
    void write_replaces_the_file_with_the_given_permissions_and_leaves_no_temp_file(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("sub/state.json");
        AtomicFiles.write(target, "one");
        AtomicFiles.write(target, "two".getBytes(StandardCharsets.UTF_8), "rw-------");
        assertThat(Files.readString(target)).isEqualTo("two");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target))).isEqualTo("rw-------");
        try (var files = Files.list(target.getParent())) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly("state.json");
        }
    }

    @Test
    void a_symbolic_link_at_the_target_is_replaced_not_written_through(@TempDir Path dir) throws Exception {
        Path elsewhere = Files.writeString(dir.resolve("elsewhere"), "keep");
        Path target = Files.createSymbolicLink(dir.resolve("token"), elsewhere);
        AtomicFiles.write(target, "new".getBytes(StandardCharsets.UTF_8), "rw-------");
        assertThat(Files.isSymbolicLink(target)).isFalse();
        assertThat(Files.readString(target)).isEqualTo("new");
        assertThat(Files.readString(elsewhere)).isEqualTo("keep");
    }

    @Test
    void create_if_absent_has_exactly_one_winner_and_never_replaces(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("token");
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                String content = "writer-" + i;
                results.add(pool.submit((Callable<Boolean>) () ->
                        AtomicFiles.createIfAbsent(target, content.getBytes(StandardCharsets.UTF_8), "rw-------")));
            }
            int winners = 0;
            for (Future<Boolean> f : results) winners += f.get() ? 1 : 0;
            assertThat(winners).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
        String first = Files.readString(target);
        assertThat(first).startsWith("writer-");
        assertThat(AtomicFiles.createIfAbsent(target, "late".getBytes(StandardCharsets.UTF_8), null)).isFalse();
        assertThat(Files.readString(target)).isEqualTo(first);
        try (var files = Files.list(dir)) {
            assertThat(files.count()).as("no temp file left").isEqualTo(1);
        }
    }

    @Test
    void move_publishes_a_written_file_and_replaces_only_when_asked(@TempDir Path dir) throws Exception {
        Path a = Files.writeString(dir.resolve("a.tmp"), "A");
        Path target = dir.resolve("objects/pack/p.pack");
        AtomicFiles.move(a, target, false);
        assertThat(Files.readString(target)).isEqualTo("A");
        assertThat(Files.exists(a, LinkOption.NOFOLLOW_LINKS)).isFalse();

        Path b = Files.writeString(dir.resolve("b.tmp"), "B");
        assertThatThrownBy(() -> AtomicFiles.move(b, target, false)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(target)).isEqualTo("A");
        AtomicFiles.move(b, target, true);
        assertThat(Files.readString(target)).isEqualTo("B");
    }
}
