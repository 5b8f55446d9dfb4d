package dev.microvm.orchestrator.secrets;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AccessTokenTest {

    @TempDir
    Path dir;

    @Test
    void theFirstStartCreatesAPrivateRandomTokenAndLaterStartsReuseIt() throws Exception {
        Path file = dir.resolve("http").resolve("token");
        AccessToken first = AccessToken.loadOrCreate(file);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getPosixFilePermissions(file.getParent())).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        assertThat(first.reveal()).matches("[0-9a-f]{64}");
        assertThat(AccessToken.loadOrCreate(file).reveal()).isEqualTo(first.reveal());
        assertThat(AccessToken.loadOrCreate(dir.resolve("other")).reveal()).isNotEqualTo(first.reveal());
        assertThat(first.toString()).doesNotContain(first.reveal());
        try (var listing = Files.list(file.getParent())) {
            assertThat(listing.toList()).containsExactly(file); // no temporary file left behind
        }
    }

    @Test
    void processesStartingTogetherAgreeOnOneToken() throws Exception {
        Path file = dir.resolve("token");
        Set<String> seen = ConcurrentHashMap.newKeySet();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        for (int i = 0; i < 8; i++) {
            pool.submit(() -> {
                go.await();
                seen.add(AccessToken.loadOrCreate(file).reveal());
                return null;
            });
        }
        go.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        assertThat(seen).hasSize(1);
    }

    @Test
    void matchingIsExact() {
        AccessToken t = AccessToken.loadOrCreate(dir.resolve("token"));
        assertThat(t.matches(t.reveal())).isTrue();
        assertThat(t.matches(null)).isFalse();
        assertThat(t.matches("")).isFalse();
        assertThat(t.matches(t.reveal() + "0")).isFalse();
        assertThat(t.matches(t.reveal().toUpperCase())).isFalse();
    }

    @Test
    void aDamagedOrLinkedTokenFileIsAClearError() throws Exception {
        Path damaged = dir.resolve("damaged");
        Files.writeString(damaged, "short");
        assertThatThrownBy(() -> AccessToken.loadOrCreate(damaged)).hasMessageContaining("delete it");
        Path target = dir.resolve("target");
        AccessToken.loadOrCreate(target);
        Path link = dir.resolve("link");
        Files.createSymbolicLink(link, target);
        assertThatThrownBy(() -> AccessToken.loadOrCreate(link)).hasStackTraceContaining("not a link");
    }
}
