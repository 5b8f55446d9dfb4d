package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.VmSpec;
import dev.microvm.orchestrator.vm.VmException;
import dev.microvm.orchestrator.vm.DetachedSpawner;
import dev.microvm.orchestrator.testing.ProcessMarker;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VfkitArgvTest {
    static final Path C = Path.of("/s/t1/ctl");

    static VmSpec spec(VmSpec.Network net, boolean roShare, String cmdline) {
        return spec(net, roShare, cmdline, Map.of());
    }

    static VmSpec spec(VmSpec.Network net, boolean roShare, String cmdline, Map<String, String> labels) {
        return new VmSpec("t1", 2, 2048,
                new VmSpec.Boot(Path.of("/img/Image"), Path.of("/img/initrd"), cmdline),
                List.of(new VmSpec.Disk(Path.of("/slots/0/disk.img"), false, "mvo_slot")),
                List.of(new VmSpec.Share(Path.of("/s/t1/workspace"), "mvo_ws", false),
                        new VmSpec.Share(Path.of("/s/t1/io"), "mvo_io", roShare)),
                net, Path.of("/s/t1/console.log"), C, labels);
    }

    @Test
    void a_task_vm_translates_to_exactly_this_vfkit_command_line() {
        VfkitOptions o = new VfkitOptions("/opt/vfkit", true, "/state");
        assertThat(VfkitArgv.build(spec(VmSpec.Network.nat(), false, "console=hvc0 panic=-1 quiet", Map.of("slot", "3")), o))
                .containsExactly("/opt/vfkit", "--cpus", "2", "--memory", "2048",
                        "--bootloader", "linux,kernel=/img/Image,initrd=/img/initrd,cmdline=\"console=hvc0 panic=-1 quiet mvo.net=dhcp\"",
                        "--device", "virtio-blk,path=/slots/0/disk.img,deviceId=mvo_slot",
                        "--device", "virtio-fs,sharedDir=/s/t1/workspace,mountTag=mvo_ws",
                        "--device", "virtio-fs,sharedDir=/s/t1/io,mountTag=mvo_io",
                        "--device", "virtio-net,nat,mac=" + o.macAddress("3"),
                        "--device", "virtio-serial,logFilePath=/s/t1/console.log",
                        "--device", "rosetta,mountTag=rosetta,ignore-if-missing",
                        "--restful-uri", "unix:///s/t1/ctl/rest.sock",
                        "--pidfile", "/s/t1/ctl/mvo-vm-t1.pid");
    }

    @Test
    void no_network_means_no_nic_no_channel_and_no_rosetta_when_disabled() {
        List<String> argv = VfkitArgv.build(spec(VmSpec.Network.none(), false, "console=hvc0"), new VfkitOptions("vfkit", false));
        assertThat(argv).noneMatch(a -> a.startsWith("virtio-net")).noneMatch(a -> a.startsWith("virtio-vsock"))
                .noneMatch(a -> a.startsWith("rosetta")).noneMatch(a -> a.contains("mvo.net=dhcp"));
    }

    @Test
    void api_only_means_no_nic_and_one_vsock_channel_to_the_tasks_unix_socket_where_the_host_listens() {
        List<String> argv = VfkitArgv.build(spec(new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, 8080), false, "console=hvc0"),
                new VfkitOptions("vfkit", false));
        assertThat(argv).noneMatch(a -> a.startsWith("virtio-net"));
        // listen: the guest connects to vsock CID 2 (the host), vfkit dials the unix socket (doc/usage.md, pkg/vf/vsock.go)
        assertThat(argv).containsSubsequence("--device", "virtio-vsock,port=1100,socketURL=/s/t1/ctl/api.sock,listen");
        assertThat(argv.stream().filter(a -> a.startsWith("virtio-vsock"))).hasSize(1);
    }

    @Test
    void the_guest_mac_is_stable_per_slot_locally_administered_and_unicast() {
        VfkitOptions host = new VfkitOptions("vfkit", false, "/Users/a/.microvm-orchestrator");
        String slot0 = host.macAddress("0");
        assertThat(slot0).matches("([0-9a-f]{2}:){5}[0-9a-f]{2}");
        assertThat(host.macAddress("0")).isEqualTo(slot0);
        assertThat(new VfkitOptions("other", true, "/Users/a/.microvm-orchestrator").macAddress("0")).isEqualTo(slot0);
        assertThat(host.macAddress("1")).isNotEqualTo(slot0);
        assertThat(new VfkitOptions("vfkit", false, "/Users/b/.microvm-orchestrator").macAddress("0")).isNotEqualTo(slot0);
        for (int slot = 0; slot < 64; slot++) {
            int first = Integer.parseInt(host.macAddress(Integer.toString(slot)).substring(0, 2), 16);
            assertThat(first & 0x02).as("locally administered").isEqualTo(0x02);
            assertThat(first & 0x01).as("unicast").isZero();
        }
        List<String> argv = VfkitArgv.build(spec(VmSpec.Network.nat(), false, "console=hvc0", Map.of("slot", "0")), host);
        assertThat(argv).contains("virtio-net,nat,mac=" + slot0);
    }

    @Test
    void what_vfkit_cannot_do_is_refused_with_a_reason() {
        VfkitOptions o = VfkitOptions.defaults();
        assertThatThrownBy(() -> VfkitArgv.build(spec(VmSpec.Network.nat(), true, "x"), o)).hasMessageContaining("read-only");
        assertThatThrownBy(() -> VfkitArgv.build(spec(new VmSpec.Network(VmSpec.Network.Mode.ALLOWLIST, 8080, 3128), false, "x"), o))
                .hasMessageContaining("allowlist");
        assertThatThrownBy(() -> VfkitArgv.build(spec(VmSpec.Network.nat(), false, "a=\"b\""), o)).hasMessageContaining("'\"'");
    }

    @Test
    void the_fake_vfkit_rejects_what_vfkit_rejects(@TempDir Path tmp) throws Exception {
        Path exe = VfkitSimulator.install(tmp.resolve("bin"));
        Path kernel = Files.writeString(tmp.resolve("Image"), "k");
        Path dir = Files.createDirectories(tmp.resolve("share"));
        List<String> base = List.of("--bootloader", "linux,kernel=" + kernel + ",initrd=" + kernel + ",cmdline=\"console=hvc0\"",
                "--device", "virtio-serial,logFilePath=" + tmp.resolve("c.log"));
        assertThat(run(exe, base, "--device", "virtio-fs,sharedDir=" + dir + ",mountTag=x,readonly"))
                .contains("unknown option for virtio-fs devices: readonly");
        assertThat(run(exe, base, "--device", "virtio-net")).contains("one of 'nat' or 'fd' or 'unixSocketPath' must be set");
        assertThat(run(exe, base, "--device", "rosetta,mountTag=rosetta,ignoreIfMissing")).contains("unknown option for rosetta share: ignoreIfMissing");
        assertThat(run(exe, base, "--restful-uri", "unix:///" + "x".repeat(120))).contains("socket path length exceeds macOS limits");
        assertThat(run(exe, base, "--device", "virtio-blk,path=" + tmp.resolve("none.img"))).contains("failed to open file");
        assertThat(run(exe, List.of("--bootloader", "linux,kernel=" + kernel + ",cmdline=x"))).contains("missing initrd path");
        assertThat(run(exe, base, "--frobnicate")).contains("unknown flag: --frobnicate");
    }

    @Test
    void the_version_check_reads_vfkits_version_line(@TempDir Path tmp) throws Exception {
        Path exe = VfkitSimulator.install(tmp.resolve("bin"));
        assertThat(new VfkitDriver(new VfkitOptions(exe.toString(), false)).checkVersion()).isEqualTo("0.6.2");
        // v0.6.1 rejects --pidfile, which the driver always passes
        Path old = Files.writeString(tmp.resolve("old-vfkit"), "#!/bin/sh\necho 'vfkit version: v0.6.1'\n");
        old.toFile().setExecutable(true);
        assertThatThrownBy(() -> new VfkitDriver(new VfkitOptions(old.toString(), false)).checkVersion())
                .hasMessageContaining("too old").hasMessageContaining("0.6.2");
    }

    @Test
    void a_hung_version_probe_is_killed_by_its_timeout(@TempDir Path tmp) throws Exception {
        String marker = ProcessMarker.sleepSeconds();
        Path hung = Files.writeString(tmp.resolve("hung-vfkit"), "#!/bin/sh\nsleep " + marker + "\n");
        hung.toFile().setExecutable(true);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> new VfkitDriver(new VfkitOptions(hung.toString(), false), new DetachedSpawner(),
                Duration.ofSeconds(1)).checkVersion())
                .isInstanceOf(VmException.class)
                .hasMessageContaining(hung + " --version").hasMessageContaining("did not finish within 1 s and was killed");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(6));
        assertThat(ProcessMarker.running(marker)).isFalse();
    }

    private static String run(Path exe, List<String> base, String... more) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(exe.toString()));
        cmd.addAll(base);
        cmd.addAll(List.of(more));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isEqualTo(1);
        return out;
    }
}
