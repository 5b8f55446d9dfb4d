package dev.microvm.orchestrator.cli;

import dev.microvm.orchestrator.config.StatePaths;
import dev.microvm.orchestrator.mcp.GuestFeatures;
import dev.microvm.orchestrator.vm.GuestImage;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** What {@code mcp} tells its tool descriptions about the configured guest image: read from its manifest. */
class McpGuestFeaturesTest {

    @TempDir Path tmp;

    private StatePaths stateWithGuest(Path guestDir) throws Exception {
        StatePaths paths = new StatePaths(tmp.resolve("state"));
        Files.createDirectories(paths.root());
        Files.writeString(paths.configFile(), new JsonObject().put("guest_dir", guestDir.toString()).encode());
        return paths;
    }

    private Path image(String name, JsonArray features) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        for (String f : new String[] {"vmlinux", "initrd.cpio.gz", "store.img"}) Files.writeString(dir.resolve(f), f);
        JsonObject manifest = new JsonObject().put("manifest_version", 1).put("image_version", name)
                .put("architecture", "x86_64").put("kernel", "vmlinux").put("initrd", "initrd.cpio.gz")
                .put("cmdline", "panic=-1").put("console", "ttyS0")
                .put("disks", new JsonArray().add(new JsonObject().put("file", "store.img").put("serial", "mvo_store").put("read_only", true)))
                .put("agent_user", new JsonObject().put("name", "agent").put("uid", 1000).put("gid", 1000).put("home", "/home/agent"))
                .put("agents", new JsonArray().add(new JsonObject().put("name", "claude-code").put("command", "claude").put("version", "1")));
        if (features != null) manifest.put("features", features);
        Files.writeString(dir.resolve(GuestImage.MANIFEST), manifest.encode());
        return dir;
    }

    @Test
    void theFeaturesComeFromTheConfiguredImagesManifest() throws Exception {
        GuestFeatures with = McpCommand.guestFeatures(stateWithGuest(image("with", new JsonArray().add("containers").add("nix"))));
        assertThat(with.known()).isTrue();
        assertThat(with.has(GuestImage.FEATURE_CONTAINERS)).isTrue();
        assertThat(with.has(GuestImage.FEATURE_NIX)).isTrue();
    }

    @Test
    void aManifestWithoutFeaturesOffersNone() throws Exception {
        GuestFeatures without = McpCommand.guestFeatures(stateWithGuest(image("without", null)));
        assertThat(without).isEqualTo(GuestFeatures.of(Set.of()));
        assertThat(without.has(GuestImage.FEATURE_CONTAINERS)).isFalse();
    }

    @Test
    void anImageThatCannotBeReadIsUnknownAndNothingFails() throws Exception {
        assertThat(McpCommand.guestFeatures(stateWithGuest(tmp.resolve("missing"))).known()).isFalse();
        Path broken = image("broken", new JsonArray().add("wasm"));
        assertThat(McpCommand.guestFeatures(stateWithGuest(broken)).known()).as("an unknown feature name makes the manifest invalid").isFalse();
    }
}
