package dev.microvm.orchestrator.vm;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Host and guest agree: the Java constants, the runner script and the Nix image definition. */
class GuestContractTest {
    final String runner = GuestRunnerFiles.runnerScript();

    @Test
    void the_runner_uses_the_same_tags_disk_id_and_paths_as_the_host() {
        assertThat(runner)
                .contains("MVO_TAG_WORKSPACE=" + GuestContract.TAG_WORKSPACE + "\n")
                .contains("MVO_TAG_IO=" + GuestContract.TAG_IO + "\n")
                .contains("MVO_TAG_OBJECTS=" + GuestContract.TAG_OBJECTS + "\n")
                .contains("MVO_DISK_SLOT=" + GuestContract.DISK_SLOT + "\n")
                .contains("MVO_DISK_CACHE=" + GuestContract.DISK_CACHE + "\n")
                .contains("MVO_GUEST_CACHE=" + GuestContract.GUEST_CACHE + "\n")
                .contains("${" + GuestContract.ENV_CACHE_PATHS).contains("${" + GuestContract.ENV_SETUP_SKIP)
                .contains("${" + GuestContract.ENV_NIX_DEVELOP).contains("${" + GuestContract.ENV_NETWORK)

                .contains("MVO_GUEST_WORKSPACE=" + GuestContract.GUEST_WORKSPACE + "\n")
                .contains("MVO_GUEST_IO=" + GuestContract.GUEST_IO + "\n")
                .contains("MVO_GUEST_OBJECTS=" + GuestContract.GUEST_OBJECTS + "\n")
                .contains(GuestContract.READY_MARKER.substring("mvo-runner: ".length()));
        for (String out : List.of(GuestContract.OUT_AGENT_LOG, GuestContract.OUT_EXIT_CODE, GuestContract.OUT_BUNDLE,
                GuestContract.OUT_RUNNER_LOG, GuestContract.OUT_DONE, GuestContract.OUT_SETUP_RESULT,
                GuestContract.OUT_NIX_DEVELOP_RESULT)) {
            assertThat(runner).contains("$out/" + out.substring("out/".length()));
        }
    }

    @Test
    void the_classpath_copy_is_the_source_file() throws Exception {
        Path src = TestGuest.projectDir().resolve("nixos-vm/runner/mvo-runner.sh");
        assertThat(runner).isEqualTo(Files.readString(src));
        assertThat(GuestRunnerFiles.kernelCmdline("ttyS0", "x=1"))
                .isEqualTo("console=ttyS0 " + Files.readString(TestGuest.projectDir().resolve("nixos-vm/runner/kernel-cmdline")).strip() + " x=1");
    }

    @Test
    void the_production_image_runs_the_shared_runner_and_command_line() throws Exception {
        Path nix = TestGuest.projectDir().resolve("nixos-vm");
        assertThat(Files.readString(nix.resolve("guest.nix"))).contains("./runner/mvo-runner.sh")
                .contains("virtio-" + GuestContract.DISK_STORE)
                // the slot disk is /var from the initrd on, before anything populates /var
                .contains("fileSystems.\"/var\"").contains("virtio-" + GuestContract.DISK_SLOT).contains("neededForBoot = true")
                // the initrd finds the repository's cache disk (Nix store, container storage) by its serial
                .contains("\" = " + GuestContract.DISK_CACHE + " ]");
        assertThat(Files.readString(nix.resolve("flake.nix"))).contains("./runner/kernel-cmdline")
                .contains("features = [ \"" + GuestImage.FEATURE_NIX + "\" \"" + GuestImage.FEATURE_CONTAINERS + "\" ]");
        String init = Files.readString(TestGuest.projectDir().resolve("scripts/build-guest.sh"));
        assertThat(init.indexOf("/mvo/mvo-runner.sh mount-slot")).as("the Debian init mounts the slot disk before its network and runner")
                .isPositive().isLessThan(init.indexOf("hostname mvo-guest"));
        assertThat(init).contains("nixos-vm/runner/mvo-runner.sh")
                .contains("nixos-vm/agents/claude-code.json");
    }

    @Test
    void every_image_builder_writes_the_whole_manifest_and_names_the_agent_user() throws Exception {
        Path root = TestGuest.projectDir();
        String flake = Files.readString(root.resolve("nixos-vm/flake.nix"));
        String script = Files.readString(root.resolve("scripts/build-guest.sh"));
        for (String field : List.of("manifest_version", "image_version", "architecture", "kernel", "initrd", "cmdline", "console",
                "disks", "serial", "read_only", "agent_user", "uid", "home", "agents", "version")) {
            assertThat(flake).as("flake.nix writes " + field).contains(field + " =");
            assertThat(script).as("build-guest.sh writes " + field).contains("\"" + field + "\"");
        }
        assertThat(flake).contains(GuestImage.MANIFEST).contains("./agents/claude-code.json");
        String guestNix = Files.readString(root.resolve("nixos-vm/guest.nix"));
        assertThat(guestNix).contains("uid = 1000").contains("\"mvo/agent-user\"").contains("pkgs.bash").contains("./agents/claude-code.json");
        assertThat(script).contains("/etc/mvo/agent-user").contains("agent_uid=1000");
        assertThat(runner).contains("/etc/mvo/agent-user").contains("setpriv\" --reuid");
        // markers the runner reads from the image: Nix single-user (Debian images), rootless containers (NixOS)
        assertThat(runner).contains("/etc/mvo/nix-single-user").contains("/etc/mvo/rootless-containers");
        assertThat(script).contains("/etc/mvo/nix-single-user").doesNotContain("rootless-containers");
        assertThat(guestNix).contains("\"mvo/rootless-containers\"").doesNotContain("nix-single-user");
    }

    @Test
    void every_nix_file_parses() throws Exception {
        boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
        boolean haveNix = Stream.of("/usr/bin/nix-instantiate", "/run/current-system/sw/bin/nix-instantiate").anyMatch(p -> Files.isExecutable(Path.of(p)));
        if (!ci) Assumptions.assumeTrue(haveNix, "nix-instantiate not installed");
        List<Path> files;
        try (Stream<Path> s = Files.walk(TestGuest.projectDir().resolve("nixos-vm"))) {
            files = s.filter(p -> p.toString().endsWith(".nix")).toList();
        }
        assertThat(files).hasSizeGreaterThanOrEqualTo(2);
        for (Path f : files) {
            Process p = new ProcessBuilder("nix-instantiate", "--parse", f.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(f + ": " + out).isZero();
        }
    }

    @Test
    void task_env_values_reach_the_runner_verbatim(@TempDir Path tmp) throws Exception {
        String nasty = "it's $(touch pwned) `x` \"q\" \\ $HOME\nsecond line";
        TaskIo.write(tmp, Map.of("MVO_AGENT_CMD", nasty), "p");
        assertThat(Files.getPosixFilePermissions(tmp.resolve(GuestContract.TASK_ENV))).hasSize(2);
        Process p = new ProcessBuilder("sh", "-c", "set -a; . ./task.env; printf %s \"$MVO_AGENT_CMD\"").directory(tmp.toFile()).start();
        assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(nasty);
        assertThat(tmp.resolve("pwned")).doesNotExist();
    }
}
