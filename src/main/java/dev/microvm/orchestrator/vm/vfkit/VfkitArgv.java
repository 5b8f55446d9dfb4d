package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.VmTags;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Pure translation of a {@link VmSpec} into a vfkit command line, in the grammar vfkit parses:
 * every {@code --device} value is split on every comma (no quoting), the bootloader value is split
 * on commas outside double quotes, so the kernel command line is quoted and must not contain '"'.
 */
public final class VfkitArgv {
    public static final String REST_SOCKET = "rest.sock";
    /** macOS limits unix socket paths to 104 bytes including the terminating NUL. */
    public static final int MAX_SOCKET_PATH = 103;

    private VfkitArgv() {}

    public static Path restSocket(VmSpec spec) {
        return spec.controlDir().resolve(REST_SOCKET);
    }

    /** The pid file carries the VM's tag, so a vfkit process can be found by VM name. */
    public static Path pidFile(VmSpec spec) {
        return spec.controlDir().resolve(VmTags.tag(spec.name()) + ".pid");
    }

    /** @throws IllegalArgumentException for specs vfkit cannot run, with what to do instead */
    public static List<String> build(VmSpec spec, VfkitOptions opt) {
        VmSpec.Boot boot = spec.boot();
        if (boot.initrd() == null) throw new IllegalArgumentException("vfkit's linux bootloader needs an initrd");
        if (boot.cmdline().indexOf('"') >= 0) throw new IllegalArgumentException("kernel command line must not contain '\"' for vfkit");
        if (boot.cmdline().isBlank()) throw new IllegalArgumentException("vfkit's linux bootloader needs a kernel command line");
        for (VmSpec.Share s : spec.shares()) {
            if (s.readOnly()) {
                throw new IllegalArgumentException("vfkit cannot share " + s.hostPath() + " read-only (virtio-fs shares are always writable);"
                        + " give the guest a copy-on-write clone instead");
            }
        }
        if (spec.network().mode() == VmSpec.Network.Mode.ALLOWLIST) {
            throw new IllegalArgumentException("allowlist networking is not available with vfkit yet (it needs a host-only channel); use full or none");
        }
        if (spec.network().mode() == VmSpec.Network.Mode.API_ONLY) {
            throw new IllegalArgumentException("api-only networking is not available with vfkit (its NAT cannot be restricted); use nat or none");
        }
        Path rest = restSocket(spec);
        if (rest.toString().getBytes().length > MAX_SOCKET_PATH) {
            throw new IllegalArgumentException("control socket path longer than " + MAX_SOCKET_PATH + " bytes: " + rest + " (use a shorter state directory)");
        }

        List<String> a = new ArrayList<>();
        a.add(opt.binary());
        a.addAll(List.of("--cpus", Integer.toString(spec.cpus()), "--memory", Integer.toString(spec.memoryMiB())));
        a.addAll(List.of("--bootloader", "linux,kernel=" + boot.kernel() + ",initrd=" + boot.initrd() + ",cmdline=\"" + boot.cmdline() + "\""));
        for (VmSpec.Disk d : spec.disks()) {
            a.addAll(List.of("--device", "virtio-blk,path=" + d.path() + (d.readOnly() ? ",readonly" : "") + ",deviceId=" + d.id()));
        }
        for (VmSpec.Share s : spec.shares()) {
            a.addAll(List.of("--device", "virtio-fs,sharedDir=" + s.hostPath() + ",mountTag=" + s.tag()));
        }
        if (spec.network().mode() == VmSpec.Network.Mode.NAT) a.addAll(List.of("--device", "virtio-net,nat"));
        a.addAll(List.of("--device", "virtio-serial,logFilePath=" + spec.consoleLog()));
        if (opt.rosetta()) a.addAll(List.of("--device", "rosetta,mountTag=rosetta,ignore-if-missing"));
        a.addAll(List.of("--restful-uri", "unix://" + rest));
        a.addAll(List.of("--pidfile", pidFile(spec).toString()));
        return List.copyOf(a);
    }
}
