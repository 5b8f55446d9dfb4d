package dev.microvm.orchestrator.vm;

import dev.microvm.orchestrator.config.OrchestratorConfig;
import dev.microvm.orchestrator.vm.fake.ProcessDriver;
import dev.microvm.orchestrator.vm.qemu.QemuDriver;
import dev.microvm.orchestrator.vm.qemu.QemuOptions;
import dev.microvm.orchestrator.vm.vfkit.VfkitDriver;
import dev.microvm.orchestrator.vm.vfkit.VfkitOptions;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What each driver declares it can do, and how a node's driver check reads. */
class DriverCapabilitiesTest {
    @TempDir Path tmp;
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-04T12:00:00Z"), ZoneOffset.UTC);

    @Test
    void qemuSharesReadOnlyWithMappedOwnershipBootsX86ImagesAndRelaysTheHostThroughGuestfwd() {
        DriverCapabilities c = new QemuDriver(new QemuOptions("qemu-system-x86_64", "microvm", QemuOptions.Accelerator.TCG, OptionalLong.empty())).capabilities();
        assertThat(c.readOnlyShares()).isTrue();
        assertThat(c.mapsShareOwnership()).isTrue();
        assertThat(c.architectures()).containsExactly("x86_64");
        assertThat(c.bootsImages()).isTrue();
        assertThat(c.snapshots()).isFalse();
        assertThat(c.guestToHost()).isEqualTo(new DriverCapabilities.GuestRoute("guestfwd", "10.0.2.100"));
        assertThat(c.networks().enforced()).containsKeys("none", "api-only", "allowlist");
        // full depends on this host (root and the namespace tools): enforced or refused with a reason, never silently absent
        assertThat(c.networks().enforces("full") || c.networks().refused().containsKey("full")).isTrue();
    }

    @Test
    void vfkitSharesAreAlwaysWritableItBootsArm64AndReachesTheHostThroughTheVmnetGateway() {
        DriverCapabilities c = new VfkitDriver(VfkitOptions.defaults()).capabilities();
        assertThat(c.readOnlyShares()).isFalse();
        assertThat(c.mapsShareOwnership()).isFalse();
        assertThat(c.architectures()).containsExactly("aarch64");
        assertThat(c.bootsImages()).isTrue();
        // the vmnet gateway is read from the system (VmnetGatewayTest), never assumed: unknown until looked up
        assertThat(c.guestToHost().kind()).isEqualTo("gateway");
        assertThat(c.guestToHost().address()).isEmpty();
        assertThat(c.networks().enforced()).containsOnlyKeys("none", "full", "api-only");
        assertThat(c.networks().enforced().get("api-only")).contains("virtio-vsock");
        assertThat(c.networks().refused()).containsOnlyKeys("allowlist");
    }

    @Test
    void theProcessDriverBootsNoImageAndReachesTheHostOnItsLoopback() {
        DriverCapabilities c = new ProcessDriver().capabilities();
        assertThat(c.bootsImages()).isFalse();
        assertThat(c.readOnlyShares()).as("accepted, not enforced: the same path as QEMU").isTrue();
        assertThat(c.mapsShareOwnership()).isFalse();
        assertThat(c.guestToHost()).isEqualTo(new DriverCapabilities.GuestRoute("loopback", "127.0.0.1"));
        assertThat(c.networks().enforced()).containsOnlyKeys("full", "allowlist", "api-only", "none");
    }

    @Test
    void theGuestImageIsReadOnlyForDriversThatBootImagesAndMustMatchTheirArchitectures() {
        OrchestratorConfig config = OrchestratorConfig.defaults(tmp).merge(new JsonObject().put("guest_dir", tmp.resolve("no-image").toString()), "test");
        assertThat(Drivers.image(config, new ProcessDriver())).as("nothing is booted, nothing is read").isEmpty();
        assertThatThrownBy(() -> Drivers.image(config, new VfkitDriver(VfkitOptions.defaults()))).isInstanceOf(RuntimeException.class);

        OrchestratorConfig x86 = OrchestratorConfig.defaults(tmp).merge(new JsonObject().put("guest_dir", TestGuest.get().dir.toString()), "test");
        assertThatThrownBy(() -> Drivers.image(x86, new VfkitDriver(VfkitOptions.defaults())))
                .hasMessageContaining("field 'architecture' is x86_64").hasMessageContaining("the vfkit driver here boots [aarch64] guests");
    }

    @Test
    void aDriverWhoseImageDoesNotLoadIsUnhealthyAndItsNodeRefusesTasksNamingTheProblem() {
        DriverFingerprint f = DriverFingerprint.check(new ProcessDriver(), () -> {
            throw new GuestImage.InvalidImage("guest image /images/x: no mvo-image.json");
        }, CLOCK);
        assertThat(f.healthy()).isFalse();
        assertThat(f.detail()).isEqualTo("guest image: guest image /images/x: no mvo-image.json");
        assertThat(f.refusal()).hasValueSatisfying(r -> assertThat(r).startsWith("this node's process driver cannot boot a guest")
                .contains("no mvo-image.json"));
        JsonObject json = f.toJson();
        assertThat(json.getBoolean("healthy")).isFalse();
        assertThat(json.getString("checked_at")).isEqualTo("2026-12-04T12:00:00Z");
        assertThat(json.getJsonObject("capabilities").getBoolean("boots_images")).isFalse();
    }

    @Test
    void aHealthyFingerprintSaysWhatWasCheckedAndBothProblemsAreNamedWhenTwoThingsFail() {
        DriverFingerprint ok = DriverFingerprint.check(new ProcessDriver(), () -> "debian (x86_64)", CLOCK);
        assertThat(ok.healthy()).isTrue();
        assertThat(ok.refusal()).isEmpty();
        assertThat(ok.detail()).isEqualTo("sh runs guests with none; guest image debian (x86_64)");
        assertThat(ok.details()).containsEntry("guest_image", "debian (x86_64)");

        ProcessDriver broken = new ProcessDriver() {
            @Override
            public DriverProbe probe() {
                return DriverProbe.failed("sh", null, "none", "the hypervisor is gone", Map.of("binary", "/nowhere"));
            }
        };
        DriverFingerprint bad = DriverFingerprint.check(broken, () -> {
            throw new IllegalStateException("no image");
        }, CLOCK);
        assertThat(bad.detail()).isEqualTo("the hypervisor is gone; guest image: no image");
        assertThat(bad.toJson().getJsonObject("details").getString("binary")).isEqualTo("/nowhere");
    }
}
