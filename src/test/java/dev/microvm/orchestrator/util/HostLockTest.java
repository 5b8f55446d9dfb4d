package dev.microvm.orchestrator.util;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostLockTest {

    @Test
    void with_lock_serializes_read_modify_write_across_threads(@TempDir Path dir) throws Exception {
        Path lock = dir.resolve("locks/counter.lock");
        Path counter = Files.writeString(dir.resolve("counter"), "0");
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                all.add(pool.submit(() -> HostLock.withLock(lock, ch -> {
                    int n = Integer.parseInt(Files.readString(counter));
                    Thread.onSpinWait();
                    Files.writeString(counter, Integer.toString(n + 1));
                    return null;
                })));
            }
            for (Future<?> f : all) f.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertThat(Files.readString(counter)).isEqualTo("200");
    }

    @Test
    void a_held_lock_blocks_others_until_closed(@TempDir Path dir) throws Exception {
        Path lock = dir.resolve("repo.lock");
        CountDownLatch entered = new CountDownLatch(1);
        CompletableFuture<Void> other;
        try (HostLock.Held held = HostLock.acquire(lock)) {
            assertThat(HostLock.tryHold(lock)).as("taken by this process").isNull();
            other = CompletableFuture.runAsync(() -> {
                try (HostLock.Held second = HostLock.acquire(lock)) {
                    entered.countDown();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(entered.await(300, TimeUnit.MILLISECONDS)).isFalse();
        }
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        other.get(10, TimeUnit.SECONDS);
    }

    @Test
    void a_hold_is_released_by_whichever_thread_closes_it(@TempDir Path dir) throws Exception {
        Path lock = dir.resolve("slots/1/slot.lock");
        FileChannel held = HostLock.tryHold(lock);
        assertThat(held).isNotNull();
        assertThat(HostLock.tryHold(lock)).isNull();
        CompletableFuture.runAsync(() -> {
            try {
                held.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).get(10, TimeUnit.SECONDS);
        try (HostLock.Held again = HostLock.acquire(lock)) {
            assertThat(again.channel().isOpen()).isTrue();
        }
        FileChannel free = HostLock.tryHold(lock);
        assertThat(free).isNotNull();
        free.close();
    }
}
