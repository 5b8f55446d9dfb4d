package dev.microvm.orchestrator.slot;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.vm.SlotDisk;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SlotCachesTest {

    @TempDir Path tmp;

    @Test
    void eachSlotRepositoryAndArchitectureHasItsOwnImageAndKeyFileInsideTheSlot() {
        SlotCaches caches = new SlotCaches(new StatePaths(tmp));
        SlotCaches.Entry a = caches.entry(0, "/home/dev/app", "x86_64");
        assertThat(a.image().getParent()).isEqualTo(tmp.resolve("slots/0/cache"));
        assertThat(a.image().getFileName().toString()).matches("app-[0-9a-f]{12}-x86_64\\.img");
        assertThat(a.keyFile().getFileName().toString()).isEqualTo(a.image().getFileName().toString().replace(".img", ".json"));
        assertThat(caches.entry(0, "/other/app", "x86_64").image()).as("same name, other repository").isNotEqualTo(a.image());
        assertThat(caches.entry(0, "/home/dev/app", "aarch64").image()).isNotEqualTo(a.image());
        assertThat(caches.entry(1, "/home/dev/app", "x86_64").image()).isNotEqualTo(a.image());
        assertThat(SlotCaches.repoKey("/x/../../etc/..hidden dir")).matches("_[A-Za-z0-9._-]*-[0-9a-f]{12}").doesNotContain("/");
        assertThatThrownBy(() -> caches.entry(0, "/home/dev/app", "../x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theSetupKeyIsKeptBesideTheImageAndListedPerRepository() throws Exception {
        SlotCaches caches = new SlotCaches(new StatePaths(tmp));
        SlotCaches.Entry e = caches.entry(2, "/home/dev/app", "x86_64");
        assertThat(caches.setupKey(e)).isEmpty();
        SlotDisk.ensure(e.image(), 64L << 20);
        caches.remember(e, "/home/dev/app", "x86_64");
        assertThat(caches.setupKey(e)).isEmpty();
        caches.recordSetup(e, "/home/dev/app", "x86_64", "abc123", Instant.parse("2026-12-05T00:00:00Z"));
        assertThat(caches.setupKey(e)).contains("abc123");
        caches.remember(e, "/home/dev/app", "x86_64");
        assertThat(caches.setupKey(e)).as("remembering the repository keeps the key").contains("abc123");

        JsonArray held = caches.describe(2);
        assertThat(held).hasSize(1);
        JsonObject repo = held.getJsonObject(0);
        assertThat(repo.getString("repo")).isEqualTo("/home/dev/app");
        assertThat(repo.getString("arch")).isEqualTo("x86_64");
        assertThat(repo.getString("setup_at")).isEqualTo("2026-12-05T00:00:00Z");
        assertThat(repo.getLong("image_size")).isEqualTo(64L << 20);
        assertThat(repo.getLong("image_bytes")).as("sparse: nothing written yet").isLessThan(1L << 20);
        assertThat(caches.describe(3)).isEmpty();
    }

    @Test
    void anUnreadableKeyFileCountsAsNoKeySoSetupRunsAgain() throws Exception {
        SlotCaches caches = new SlotCaches(new StatePaths(tmp));
        SlotCaches.Entry e = caches.entry(0, "/home/dev/app", "x86_64");
        Files.createDirectories(e.keyFile().getParent());
        Files.writeString(e.keyFile(), "{not json");
        assertThat(caches.setupKey(e)).isEmpty();
    }
}
