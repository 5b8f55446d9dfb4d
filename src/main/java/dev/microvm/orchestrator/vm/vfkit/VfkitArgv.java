package dev.microvm.orchestrator.vm.vfkit;

import dev.microvm.orchestrator.vm.GuestContract;
import dev.microvm.orchestrator.vm.VmTags;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Pure translation of a {@link VmSpec} into a vfkit command line, in the grammar vfkit parses:
 * every {@code --device} value is split on every comma (no quoting), the bootloader value is split
 * on commas outside double quotes, so the kernel command line is quoted and must not contain '"'.
 * Grammar as in vfkit's {@code cmd/vfkit/main.go}, {@code pkg/config/virtio.go} and {@code doc/usage.md}.
 */
public final class VfkitArgv {
    public static final String REST_SOCKET = "rest.sock";
    /** api-only: the host end of the guest's vsock channel to the credential proxy. */
    public static final String API_SOCKET = "api.sock";
    /**
     * Appended to the kernel command line of a NAT guest: vmnet hands out addresses by DHCP (the
     * guest's gateway is the host), unlike QEMU's user network, whose fixed addresses the guest's
     * init sets without asking.
     */
    public static final String DHCP_FLAG = "mvo.net=dhcp";
    /** macOS limits unix socket paths to 104 bytes including the terminating NUL. */
    public static final int MAX_SOCKET_PATH = 103;

    private VfkitArgv() {}

    public static Path restSocket(VmSpec spec) {
        return spec.controlDir().resolve(REST_SOCKET);
    }

    public static Path apiSocket(VmSpec spec) {
        return spec.controlDir().resolve(API_SOCKET);
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
            throw new IllegalArgumentException("allowlist networking is not available with vfkit yet (its NAT cannot be restricted to a proxy); use full, api-only or none");
        }
        for (Path socket : List.of(restSocket(spec), apiSocket(spec))) {
            if (socket.toString().getBytes().length > MAX_SOCKET_PATH) {
                throw new IllegalArgumentException("control socket path longer than " + MAX_SOCKET_PATH + " bytes: " + socket + " (use a shorter state directory)");
            }
        }
        Path rest = restSocket(spec);

        List<String> a = new ArrayList<>();
        a.add(opt.binary());
        a.addAll(List.of("--cpus", Integer.toString(spec.cpus()), "--memory", Integer.toString(spec.memoryMiB())));
        String cmdline = spec.network().mode() == VmSpec.Network.Mode.NAT ? boot.cmdline() + " " + DHCP_FLAG : boot.cmdline();
        a.addAll(List.of("--bootloader", "linux,kernel=" + boot.kernel() + ",initrd=" + boot.initrd() + ",cmdline=\"" + cmdline + "\""));
        for (VmSpec.Disk d : spec.disks()) {
            a.addAll(List.of("--device", "virtio-blk,path=" + d.path() + (d.readOnly() ? ",readonly" : "") + ",deviceId=" + d.id()));
        }
        for (VmSpec.Share s : spec.shares()) {
            a.addAll(List.of("--device", "virtio-fs,sharedDir=" + s.hostPath() + ",mountTag=" + s.tag()));
        }
        switch (spec.network().mode()) {
            // a stable address per slot: vmnet's DHCP server then keeps handing the slot one lease
            case NAT -> a.addAll(List.of("--device", "virtio-net,nat,mac=" + opt.macAddress(spec.labels().getOrDefault("slot", spec.name()))));
            // no NIC: the guest's only way out is its vsock channel, which vfkit joins to the host's unix socket
            // (listen: the guest connects to CID 2, vfkit dials the socket per connection; pkg/vf/vsock.go)
            case API_ONLY -> a.addAll(List.of("--device", "virtio-vsock,port=" + GuestContract.API_VSOCK_PORT
                    + ",socketURL=" + apiSocket(spec) + ",listen"));
            default -> { } // none: no network device, no channel
        }
        a.addAll(List.of("--device", "virtio-serial,logFilePath=" + spec.consoleLog()));
        if (opt.rosetta()) a.addAll(List.of("--device", "rosetta,mountTag=rosetta,ignore-if-missing"));
        a.addAll(List.of("--restful-uri", "unix://" + rest));
        a.addAll(List.of("--pidfile", pidFile(spec).toString()));
        return List.copyOf(a);
    }
}
