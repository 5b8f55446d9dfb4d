package dev.microvm.orchestrator.worker;

import dev.microvm.orchestrator.config.Environment;
import dev.microvm.orchestrator.task.FailureReason;
import dev.microvm.orchestrator.vm.GuestImage;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** When a task runs inside nix develop, decided on the host before any VM. */
class NixDevelopTest {

    static final String FLAKE = "{ outputs = { self }: { devShells.x86_64-linux.default = derivation { name = \"s\"; }; }; }";
    static final String PACKAGES_ONLY = "{ outputs = { self }: { packages.x86_64-linux.default = derivation { name = \"p\"; }; }; }";

    static GuestImage image(Set<String> features) {
        Path d = Path.of("/images/x");
        return new GuestImage(d, "debian-12-agent-x86_64-test", "x86_64", d.resolve("vmlinux"), d.resolve("initrd"), "quiet", "ttyS0",
                List.of(), new GuestImage.AgentUser("agent", 1000, 1000, "/home/agent"), List.of(), features);
    }

    static Environment nix(Boolean wanted) {
        return new Environment(null, null, null, null, null, wanted);
    }

    static final Optional<GuestImage> WITH_NIX = Optional.of(image(Set.of(GuestImage.FEATURE_NIX)));
    static final Optional<GuestImage> WITHOUT_NIX = Optional.of(image(Set.of()));
    static final java.util.function.Supplier<Optional<GuestImage>> NIX = () -> WITH_NIX;
    static final java.util.function.Supplier<Optional<GuestImage>> NO_NIX = () -> WITHOUT_NIX;
    /** An image that cannot be read: asked for only when nix develop applies. */
    static final java.util.function.Supplier<Optional<GuestImage>> BROKEN = () -> {
        throw new IllegalStateException("the image was read");
    };

    @Test
    void aFlakeWithADevShellTurnsItOnByDefault() {
        NixDevelop d = NixDevelop.decide(Environment.none(), Optional.of(FLAKE), NIX, "commit abc");
        assertThat(d.enabled()).isTrue();
        assertThat(d.why()).contains("devShell");
        assertThat(d.toJson().getBoolean("enabled")).isTrue();
    }

    @Test
    void noFlakeOrNoDevShellOrOptingOutLeavesItOff() {
        assertThat(NixDevelop.decide(Environment.none(), Optional.empty(), BROKEN, "c").enabled()).as("the image is not read").isFalse();
        assertThat(NixDevelop.decide(Environment.none(), Optional.of(PACKAGES_ONLY), NIX, "c").enabled()).isFalse();
        NixDevelop off = NixDevelop.decide(nix(false), Optional.of(FLAKE), NO_NIX, "c");
        assertThat(off.enabled()).as("opting out needs no nix in the image").isFalse();
        assertThat(off.why()).contains("\"nix_develop\": false");
    }

    @Test
    void insistingRunsItEvenWhenTheFlakeNamesNoDevShell() {
        assertThat(NixDevelop.decide(nix(true), Optional.of(PACKAGES_ONLY), NIX, "c").enabled()).isTrue();
    }

    @Test
    void insistingWithoutAFlakeIsRefusedNamingTheCommit() {
        assertThatThrownBy(() -> NixDevelop.decide(nix(true), Optional.empty(), NIX, "commit 0123abcd of repository demo"))
                .isInstanceOfSatisfying(WorkerFailure.class, e -> assertThat(e.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining("no flake.nix at commit 0123abcd of repository demo");
    }

    @Test
    void aGuestWithoutNixIsRefusedBeforeAnyVmNamingTheImageAndTheWayOut() {
        assertThatThrownBy(() -> NixDevelop.decide(Environment.none(), Optional.of(FLAKE), NO_NIX, "commit 0123abcd"))
                .isInstanceOfSatisfying(WorkerFailure.class, e -> assertThat(e.reason()).isEqualTo(FailureReason.ENVIRONMENT_INVALID))
                .hasMessageContaining("/images/x").hasMessageContaining("has no Nix")
                .hasMessageContaining("\"nix_develop\": false").hasMessageContaining("scripts/build-guest.sh agent");
        assertThatThrownBy(() -> NixDevelop.decide(Environment.none(), Optional.of(FLAKE), Optional::empty, "c"))
                .hasMessageContaining("boots no image");
    }
}
