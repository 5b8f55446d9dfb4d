package dev.microvm.orchestrator.vm;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GuestImageTest {

    @TempDir Path dir;

    @BeforeEach
    void files() throws Exception {
        for (String f : new String[] {"vmlinux", "initrd.cpio.gz", "store.img"}) Files.writeString(dir.resolve(f), f);
    }

    private static JsonObject valid() {
        return new JsonObject().put("manifest_version", 1).put("image_version", "debian-12-agent-x86_64-1")
                .put("architecture", "x86_64").put("kernel", "vmlinux").put("initrd", "initrd.cpio.gz")
                .put("cmdline", "panic=-1 quiet").put("console", "ttyS0")
                .put("disks", new JsonArray().add(new JsonObject().put("file", "store.img").put("serial", "mvo_store").put("read_only", true)))
                .put("agent_user", new JsonObject().put("name", "agent").put("uid", 1000).put("gid", 1000).put("home", "/home/agent"))
                .put("agents", new JsonArray().add(new JsonObject().put("name", "claude-code").put("command", "claude").put("version", "2.1.197")));
    }

    private GuestImage load(Consumer<JsonObject> change) throws Exception {
        JsonObject m = valid();
        change.accept(m);
        Files.writeString(dir.resolve(GuestImage.MANIFEST), m.encode());
        return GuestImage.load(dir);
    }

    @Test
    void a_valid_manifest_boots_its_kernel_with_its_console_cmdline_and_store_disk() throws Exception {
        GuestImage image = load(m -> {});
        VmSpec.Boot boot = image.boot("x=1");
        assertThat(boot.kernel()).isEqualTo(dir.toAbsolutePath().resolve("vmlinux"));
        assertThat(boot.initrd()).isEqualTo(dir.toAbsolutePath().resolve("initrd.cpio.gz"));
        assertThat(boot.cmdline()).isEqualTo("console=ttyS0 panic=-1 quiet x=1");
        assertThat(image.vmDisks()).containsExactly(new VmSpec.Disk(dir.toAbsolutePath().resolve("store.img"), true, "mvo_store"));
        assertThat(image.agentUser().uid()).isEqualTo(1000);
        assertThat(image.agent("claude")).map(GuestImage.Agent::version).contains("2.1.197");
        assertThat(image.agent("codex")).isEmpty();
    }

    @Test
    void features_are_optional_and_named() throws Exception {
        assertThat(load(m -> {}).features()).isEmpty();
        assertThat(load(m -> {}).has(GuestImage.FEATURE_NIX)).isFalse();
        GuestImage image = load(m -> m.put("features", new JsonArray().add("containers").add("nix")));
        assertThat(image.has(GuestImage.FEATURE_NIX)).isTrue();
        assertThat(image.has(GuestImage.FEATURE_CONTAINERS)).isTrue();
    }

    @Test
    void a_missing_manifest_names_the_image_and_how_to_build_one() {
        assertThatThrownBy(() -> GuestImage.load(dir)).isInstanceOf(GuestImage.InvalidImage.class)
                .hasMessageContaining(dir.toString()).hasMessageContaining("mvo-image.json").hasMessageContaining("scripts/build-guest.sh");
    }

    @Test
    void every_missing_field_is_named() throws Exception {
        for (String field : valid().fieldNames()) {
            assertThatThrownBy(() -> load(m -> m.remove(field))).as(field).isInstanceOf(GuestImage.InvalidImage.class)
                    .hasMessageContaining(dir.toString()).hasMessageContaining("'" + field + "' is missing");
        }
    }

    @Test
    void invalid_fields_are_named_with_what_is_wrong() {
        record Case(String field, Consumer<JsonObject> change, String says) {}
        for (Case c : new Case[] {
                new Case("kernel", m -> m.put("kernel", "../vmlinux"), "plain file name"),
                new Case("kernel", m -> m.put("kernel", "/boot/vmlinux"), "plain file name"),
                new Case("initrd", m -> m.put("initrd", "nope.gz"), "not a file in the image directory"),
                new Case("architecture", m -> m.put("architecture", "riscv64"), "must be one of"),
                new Case("manifest_version", m -> m.put("manifest_version", 2), "reads version 1"),
                new Case("console", m -> m.put("console", "tty0; rm"), "must match"),
                new Case("cmdline", m -> m.put("cmdline", "console=ttyS1 quiet"), "console field"),
                new Case("disks[0].read_only", m -> m.getJsonArray("disks").getJsonObject(0).put("read_only", false), "must be true"),
                new Case("disks[0].serial", m -> m.getJsonArray("disks").getJsonObject(0).put("serial", "mvo_slot"), "slot disk"),
                new Case("agent_user.uid", m -> m.getJsonObject("agent_user").put("uid", 0), "1..65533"),
                new Case("agent_user.name", m -> m.getJsonObject("agent_user").remove("name"), "is missing"),
                new Case("agents[0].version", m -> m.getJsonArray("agents").getJsonObject(0).put("version", 7), "must be a string"),
                new Case("features[1]", m -> m.put("features", new JsonArray().add("nix").add("docker")), "must be one of"),
                new Case("features", m -> m.put("features", "nix"), "must be an array"),
        }) {
            assertThatThrownBy(() -> load(c.change())).as(c.field()).isInstanceOf(GuestImage.InvalidImage.class)
                    .hasMessageContaining(dir.toString()).hasMessageContaining("'" + c.field() + "'").hasMessageContaining(c.says());
        }
    }

    @Test
    void unreadable_json_is_reported_as_such() throws Exception {
        Files.writeString(dir.resolve(GuestImage.MANIFEST), "{ not json");
        assertThatThrownBy(() -> GuestImage.load(dir)).hasMessageContaining("not readable JSON").hasMessageContaining(dir.toString());
    }
}
