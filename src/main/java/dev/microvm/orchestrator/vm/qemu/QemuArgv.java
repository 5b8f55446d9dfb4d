package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.VmTags;
import dev.microvm.orchestrator.vm.VmSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Pure translation of a {@link VmSpec} into a QEMU command line. */
public final class QemuArgv {
    /** Guest-side address that QEMU forwards to the host's credential proxy. */
    public static final String API_PROXY_GUEST_ADDR = "10.0.2.100";
    public static final int API_PROXY_GUEST_PORT = 80;
    /** Guest-side address of the task's egress proxy under network allowlist (HTTP_PROXY, HTTPS_PROXY). */
    public static final String EGRESS_PROXY_GUEST_ADDR = "10.0.2.101";
    public static final int EGRESS_PROXY_GUEST_PORT = 3128;
    public static final String QMP_SOCKET = "qmp.sock";

    private QemuArgv() {}

    public static Path qmpSocket(VmSpec spec) {
        return spec.controlDir().resolve(QMP_SOCKET);
    }

    /**
     * The command QEMU runs for each guest connection to the proxy address, stdin/stdout being
     * that connection. (A "tcp:" chardev target would be one connection for the VM's whole life.)
     * bash's /dev/tcp avoids depending on socat or netcat; no commas, which QEMU would split on.
     */
    static String proxyRelay(int port) {
        return "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port + " || exit 1; cat <&3 & cat >&3; wait'";
    }

    /**
     * Under network {@code full} QEMU runs in {@link EgressNamespace}, whose loopback is not the
     * host's: the relay enters the host's namespace for this one connection to the proxy.
     */
    static String proxyRelayFromEgressNamespace(int port) {
        return "nsenter --net=" + EgressNamespace.hostPath() + " " + proxyRelay(port);
    }

    public static List<String> build(VmSpec spec, QemuOptions opt) {
        if (opt.accelerator() == QemuOptions.Accelerator.AUTO) {
            throw new IllegalArgumentException("resolve the accelerator before building argv");
        }
        boolean mmio = opt.machine().startsWith("microvm");
        String bus = mmio ? "device" : "pci";
        List<String> a = new ArrayList<>();
        boolean egress = spec.network().mode() == VmSpec.Network.Mode.NAT;
        // full: QEMU's user-mode network opens its sockets in a namespace that cannot reach the host
        if (egress) a.addAll(List.of("nsenter", "--net=" + EgressNamespace.path()));
        a.add(opt.binary());
        a.addAll(List.of("-name", "guest=" + spec.name() + ",process=" + VmTags.tag(spec.name())));
        a.addAll(List.of("-machine", opt.machine()));
        a.addAll(accelerator(opt));
        a.addAll(List.of("-m", Integer.toString(spec.memoryMiB()), "-smp", Integer.toString(spec.cpus())));
        a.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot"));
        a.addAll(List.of("-serial", "file:" + spec.consoleLog()));
        a.addAll(List.of("-qmp", "unix:" + qmpSocket(spec) + ",server=on,wait=off"));
        a.addAll(List.of("-kernel", spec.boot().kernel().toString()));
        if (spec.boot().initrd() != null) a.addAll(List.of("-initrd", spec.boot().initrd().toString()));
        String cmdline = spec.boot().cmdline();
        if (opt.tscKhz().isPresent()) cmdline = withKernelParameter(cmdline, "tsc_early_khz=" + opt.tscKhz().getAsLong());
        a.addAll(List.of("-append", cmdline));
        // mapped-xattr: the guest's owners, modes, setuid bits and device nodes live in extended
        // attributes of plain files owned by QEMU's user; none of them ever becomes host metadata.
        int i = 0;
        for (VmSpec.Share s : spec.shares()) {
            String id = "fs" + i++;
            a.addAll(List.of("-fsdev", "local,id=" + id + ",path=" + s.hostPath() + ",security_model=mapped-xattr" + (s.readOnly() ? ",readonly=on" : "")));
            a.addAll(List.of("-device", "virtio-9p-" + bus + ",fsdev=" + id + ",mount_tag=" + s.tag()));
        }
        i = 0;
        for (VmSpec.Disk d : spec.disks()) {
            String id = "disk" + i++;
            a.addAll(List.of("-drive", "file=" + d.path() + ",if=none,format=raw,id=" + id + (d.readOnly() ? ",readonly=on" : "")));
            a.addAll(List.of("-device", "virtio-blk-" + bus + ",drive=" + id + ",serial=" + d.id()));
        }
        VmSpec.Network net = spec.network();
        if (net.mode() != VmSpec.Network.Mode.NONE) {
            StringBuilder nd = new StringBuilder("user,id=net0");
            // restrict=on: no direct route out; only the guestfwd channels below leave the guest
            if (net.mode() == VmSpec.Network.Mode.API_ONLY || net.mode() == VmSpec.Network.Mode.ALLOWLIST) nd.append(",restrict=on");
            if (net.apiProxyPort() > 0) {
                nd.append(",guestfwd=tcp:").append(API_PROXY_GUEST_ADDR).append(':').append(API_PROXY_GUEST_PORT)
                        .append("-cmd:").append(egress ? proxyRelayFromEgressNamespace(net.apiProxyPort()) : proxyRelay(net.apiProxyPort()));
            }
            if (net.mode() == VmSpec.Network.Mode.ALLOWLIST) {
                nd.append(",guestfwd=tcp:").append(EGRESS_PROXY_GUEST_ADDR).append(':').append(EGRESS_PROXY_GUEST_PORT)
                        .append("-cmd:").append(proxyRelay(net.egressProxyPort()));
            }
            a.addAll(List.of("-netdev", nd.toString(), "-device", "virtio-net-" + bus + ",netdev=net0"));
        }
        return List.copyOf(a);
    }

    /** The accelerator and the CPU model that go with it (shared with {@link QemuProbe}). */
    static List<String> accelerator(QemuOptions opt) {
        if (opt.accelerator() == QemuOptions.Accelerator.KVM) return List.of("-accel", "kvm", "-cpu", "host");
        // TCG's default CPU model lacks instructions today's agents use (Claude Code's native
        // binary dies with SIGILL on it); "max" offers everything TCG can emulate.
        return List.of("-accel", "tcg", "-cpu", "max");
    }

    /** Adds a kernel parameter before any "--": what follows it belongs to init, not the kernel. */
    static String withKernelParameter(String cmdline, String parameter) {
        int initArgs = (" " + cmdline + " ").indexOf(" -- ");
        if (initArgs < 0) return (cmdline + " " + parameter).strip();
        return (cmdline.substring(0, initArgs).strip() + " " + parameter + " " + cmdline.substring(initArgs).strip()).strip();
    }
}
