package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.GuestRunnerFiles;
import dev.microvm.orchestrator.vm.VmSpec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every command line the driver can emit, and every REST request it makes, passes through the vfkit
 * simulator's grammar (scripts/vfkit-simulator, which follows vfkit's own parsing): a flag or a
 * device option vfkit does not know fails here. Check mode parses and validates without booting.
 */
class VfkitGrammarTest {
    @TempDir Path tmp;

    @Test
    void every_spec_the_driver_emits_is_valid_vfkit() throws Exception {
        int accepted = 0;
        for (VmSpec.Network.Mode mode : VmSpec.Network.Mode.values()) {
            for (boolean rosetta : new boolean[] {true, false}) {
                for (boolean readOnlyDisk : new boolean[] {true, false}) {
                    VmSpec spec = spec(new VmSpec.Network(mode, mode == VmSpec.Network.Mode.NONE ? 0 : 8080,
                            mode == VmSpec.Network.Mode.ALLOWLIST ? 8081 : 0), readOnlyDisk);
                    List<String> argv;
                    try {
                        argv = VfkitArgv.build(spec, new VfkitOptions("vfkit", rosetta));
                    } catch (IllegalArgumentException refusedByTheDriver) {
                        continue;   // never reaches vfkit
                    }
                    VfkitSimulator.Check c = VfkitSimulator.check(argv.subList(1, argv.size()));
                    assertThat(c.exitCode()).as(mode + " " + argv + "\n" + c.stderr()).isZero();
                    JsonObject config = new JsonObject(c.stdout());
                    assertThat(config.getInteger("vcpus")).isEqualTo(2);
                    assertThat(config.getLong("memoryBytes")).isEqualTo(1024L << 20);
                    assertThat(config.getJsonObject("bootloader").getString("kernelCmdLine")).startsWith(spec.boot().cmdline());
                    assertThat(kinds(config)).contains("virtioblk", "virtiofs", "virtioserial");
                    assertThat(kinds(config).contains("virtionet")).isEqualTo(mode == VmSpec.Network.Mode.NAT);
                    accepted++;
                }
            }
        }
        assertThat(accepted).as("specs the driver can run").isGreaterThanOrEqualTo(8);
    }

    @Test
    void what_vfkit_does_not_know_fails_the_check() throws Exception {
        List<String> argv = VfkitArgv.build(spec(VmSpec.Network.nat(), false), new VfkitOptions("vfkit", true));
        List<String> valid = argv.subList(1, argv.size());
        assertThat(VfkitSimulator.check(valid).exitCode()).isZero();
        assertThat(refusal(valid, "--frobnicate")).contains("unknown flag: --frobnicate");
        assertThat(refusal(valid, "--device", "virtio-fs,sharedDir=" + tmp + ",mountTag=x,readonly"))
                .contains("unknown option for virtio-fs devices: readonly");
        assertThat(refusal(valid, "--device", "virtio-net,nat,mtu=1400")).contains("unknown option for virtio-net devices: mtu");
        assertThat(refusal(valid, "--device", "virtio-net")).contains("one of 'nat' or 'fd' or 'unixSocketPath' must be set");
        assertThat(refusal(valid, "--device", "rosetta,mountTag=rosetta,ignoreIfMissing")).contains("unknown option for rosetta share: ignoreIfMissing");
        assertThat(refusal(valid, "--device", "virtio-vsock,port=1024")).contains("virtio-vsock needs both a port and a socket URL");
        assertThat(refusal(valid, "--device", "virtio-rng,x")).contains("unknown options for virtio-rng devices");
        assertThat(refusal(valid, "--device", "virtio-9p,x")).contains("unknown device type: virtio-9p");
        assertThat(refusal(valid, "--restful-uri", "unix:///" + "x".repeat(120))).contains("socket path length exceeds macOS limits");
        assertThat(refusal(valid, "--restful-uri", "http://localhost:80")).contains("invalid scheme http");
        assertThat(refusal(valid, "--device", "virtio-blk,path=disk.img")).contains("absolute path");
        assertThat(refusal(valid, "--log-level", "verbose")).contains("unknown log level: verbose");
        assertThat(refusal(List.of("--bootloader", "linux,kernel=" + file("Image") + ",cmdline=x"))).contains("missing initrd path");
    }

    @Test
    void vsock_is_vfkit_grammar_the_simulator_says_it_cannot_carry() throws Exception {
        List<String> argv = new ArrayList<>(VfkitArgv.build(spec(VmSpec.Network.none(), false), new VfkitOptions("vfkit", false)));
        argv.addAll(List.of("--device", "virtio-vsock,port=1024,socketURL=" + tmp.resolve("v.sock") + ",listen"));
        VfkitSimulator.Check c = VfkitSimulator.check(argv.subList(1, argv.size()));
        assertThat(c.exitCode()).as(c.stderr()).isZero();
        assertThat(c.stderr()).contains("virtio-vsock is not simulated").contains("1024");
        assertThat(kinds(new JsonObject(c.stdout()))).contains("virtiosock");
    }

    @Test
    void the_rest_api_answers_as_vfkit_does() throws Exception {
        Path exe = VfkitSimulator.install(tmp.resolve("bin"), "exec sleep 30\n");   // a guest that runs until stopped
        VmSpec spec = spec(VmSpec.Network.none(), false);
        Files.createDirectories(spec.controlDir());
        List<String> argv = new ArrayList<>(VfkitArgv.build(spec, new VfkitOptions(exe.toString(), false)));
        Process vfkit = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try {
            VfkitRestClient rest = new VfkitRestClient(VfkitArgv.restSocket(spec));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.exists(VfkitArgv.restSocket(spec)) && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(rest.state()).isEqualTo("VirtualMachineStateRunning");
            assertThat(rest.request("POST", "/vm/state", "{not json").status()).isEqualTo(400);
            VfkitRestClient.Response bad = rest.request("POST", "/vm/state", "{\"state\":\"Frobnicate\"}");
            assertThat(bad.status()).isEqualTo(500);
            assertThat(bad.json().getString("error")).isEqualTo("invalid new VMState: Frobnicate");
            assertThat(rest.request("GET", "/vm/inspect", null).json().getInteger("vcpus")).isEqualTo(2);
            rest.changeState("HardStop");
            assertThat(vfkit.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(vfkit.exitValue()).isZero();
            assertThat(VfkitArgv.restSocket(spec)).doesNotExist();
            assertThat(Files.getPosixFilePermissions(VfkitArgv.pidFile(spec))).hasSize(2);   // 0600
        } finally {
            vfkit.destroyForcibly();
        }
    }

    @Test
    void sigterm_asks_the_guest_to_stop_and_vfkit_exits_zero_without_a_rest_socket() throws Exception {
        Path exe = VfkitSimulator.install(tmp.resolve("bin"), "exec sleep 30\n");
        VmSpec spec = spec(VmSpec.Network.none(), false);
        Files.createDirectories(spec.controlDir());
        Process vfkit = new ProcessBuilder(VfkitArgv.build(spec, new VfkitOptions(exe.toString(), false))).redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.exists(VfkitArgv.restSocket(spec)) && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(Files.readString(VfkitArgv.pidFile(spec)).strip()).isEqualTo(Long.toString(vfkit.pid()));
            vfkit.destroy();   // SIGTERM: cmd/vfkit/main.go requests a stop, waits 5 s, then forces it
            assertThat(vfkit.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(vfkit.exitValue()).isZero();
            assertThat(VfkitArgv.restSocket(spec)).doesNotExist();
            assertThat(VfkitArgv.pidFile(spec)).as("vfkit leaves its pid file").exists();
        } finally {
            vfkit.destroyForcibly();
        }
    }

    private String refusal(List<String> base, String... more) throws Exception {
        List<String> argv = new ArrayList<>(base);
        argv.addAll(List.of(more));
        VfkitSimulator.Check c = VfkitSimulator.check(argv);
        assertThat(c.exitCode()).as(argv.toString()).isEqualTo(1);
        assertThat(c.stderr()).startsWith("Error: ");
        return c.stderr();
    }

    private static List<String> kinds(JsonObject config) {
        JsonArray devices = config.getJsonArray("devices");
        return devices.stream().map(d -> ((JsonObject) d).getString("kind")).toList();
    }

    private Path file(String name) throws Exception {
        Path p = tmp.resolve("img").resolve(name);
        Files.createDirectories(p.getParent());
        if (!Files.exists(p)) Files.writeString(p, "0123456789");
        return p;
    }

    private VmSpec spec(VmSpec.Network net, boolean readOnlyDisk) throws Exception {
        Path ws = Files.createDirectories(tmp.resolve("t/ws"));
        Path io = Files.createDirectories(tmp.resolve("t/io"));
        return new VmSpec("t1", 2, 1024, new VmSpec.Boot(file("Image"), file("initrd"), GuestRunnerFiles.kernelCmdline("hvc0", null)),
                List.of(new VmSpec.Disk(file("store.img"), readOnlyDisk, "mvo_store"), new VmSpec.Disk(file("slot.raw"), false, GuestContract.DISK_SLOT)),
                List.of(new VmSpec.Share(ws, GuestContract.TAG_WORKSPACE, false), new VmSpec.Share(io, GuestContract.TAG_IO, false)),
                net, tmp.resolve("t/console.log"), tmp.resolve("t/ctl"), Map.of());
    }
}
