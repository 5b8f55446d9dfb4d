package dev.microvm.orchestrator.vm.qemu;

import dev.microvm.orchestrator.vm.VmSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;

class QemuArgvTest {
    static VmSpec spec(VmSpec.Network net) {
        return new VmSpec("t1", 2, 1024,
                new VmSpec.Boot(Path.of("/g/vmlinux"), Path.of("/g/initrd"), "console=ttyS0 panic=-1"),
                List.of(new VmSpec.Disk(Path.of("/slots/0/disk.img"), false, "mvo_slot")),
                List.of(new VmSpec.Share(Path.of("/s/t1/workspace"), "mvo_ws", false),
                        new VmSpec.Share(Path.of("/repo/.git/objects"), "mvo_objects", true)),
                net, Path.of("/s/t1/console.log"), Path.of("/s/t1/ctl"), Map.of());
    }

    @Test
    void a_task_vm_under_tcg_translates_to_exactly_this_command_line() {
        QemuOptions tcg = new QemuOptions("qemu-system-x86_64", "microvm", QemuOptions.Accelerator.TCG, OptionalLong.of(2_600_000));
        assertThat(QemuArgv.build(spec(new VmSpec.Network(VmSpec.Network.Mode.API_ONLY, 8123)), tcg)).containsExactly(
                "qemu-system-x86_64", "-name", "guest=t1,process=mvo-vm-t1", "-machine", "microvm", "-accel", "tcg", "-cpu", "max",
                "-m", "1024", "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
                "-serial", "file:/s/t1/console.log", "-qmp", "unix:/s/t1/ctl/qmp.sock,server=on,wait=off",
                "-kernel", "/g/vmlinux", "-initrd", "/g/initrd", "-append", "console=ttyS0 panic=-1 tsc_early_khz=2600000",
                "-fsdev", "local,id=fs0,path=/s/t1/workspace,security_model=mapped-xattr",
                "-device", "virtio-9p-device,fsdev=fs0,mount_tag=mvo_ws",
                "-fsdev", "local,id=fs1,path=/repo/.git/objects,security_model=mapped-xattr,readonly=on",
                "-device", "virtio-9p-device,fsdev=fs1,mount_tag=mvo_objects",
                "-drive", "file=/slots/0/disk.img,if=none,format=raw,id=disk0",
                "-device", "virtio-blk-device,drive=disk0,serial=mvo_slot",
                "-netdev", "user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:" + QemuArgv.proxyRelay(8123),
                "-device", "virtio-net-device,netdev=net0");
    }

    @Test
    void kvm_uses_the_host_cpu_and_pci_machines_use_pci_devices() {
        QemuOptions kvm = new QemuOptions("qemu-system-x86_64", "q35", QemuOptions.Accelerator.KVM, OptionalLong.empty());
        List<String> argv = QemuArgv.build(spec(VmSpec.Network.none()), kvm);
        assertThat(String.join(" ", argv)).contains("-accel kvm -cpu host").doesNotContain("-cpu max").doesNotContain("security_model=none").contains("virtio-9p-pci").contains("virtio-blk-pci")
                .doesNotContain("tsc_early_khz").doesNotContain("-netdev");
    }

    @Test
    void full_runs_qemu_in_the_egress_namespace_and_relays_the_proxy_through_the_host_namespace() {
        QemuOptions tcg = new QemuOptions("q", "microvm", QemuOptions.Accelerator.TCG, OptionalLong.empty());
        java.util.List<String> argv = QemuArgv.build(spec(new VmSpec.Network(VmSpec.Network.Mode.NAT, 9000)), tcg);
        assertThat(argv.subList(0, 3)).containsExactly("nsenter", "--net=/run/netns/mvo-egress", "q");
        assertThat(String.join(" ", argv)).contains("user,id=net0,guestfwd=tcp:10.0.2.100:80-cmd:nsenter --net=/run/netns/mvo-host bash -c")
                .doesNotContain("restrict=on").doesNotContain("9000,");
        assertThat(QemuArgv.proxyRelayFromEgressNamespace(9000)).doesNotContain(",");
    }

    @Test
    void the_egress_guard_rejects_every_host_address_in_one_transaction() {
        String rules = EgressNamespace.guardRules(java.util.List.of("192.0.2.2", "198.18.7.1"));
        assertThat(rules).contains("ip daddr @host_v4 reject", "meta nfproto ipv6 reject", "flush set inet mvo_guard host_v4",
                "add element inet mvo_guard host_v4 { 192.0.2.2, 198.18.7.1 }");
        assertThat(rules.indexOf("flush set")).isLessThan(rules.indexOf("add element"));
        assertThat(EgressNamespace.guardRules(java.util.List.of())).doesNotContain("add element");
    }

    @Test
    void a_bridge_subnet_is_written_from_its_address_and_prefix() throws Exception {
        assertThat(EgressNamespace.subnet((java.net.Inet4Address) java.net.InetAddress.getByName("172.17.5.9"), 16)).isEqualTo("172.17.0.0/16");
        assertThat(EgressNamespace.subnet((java.net.Inet4Address) java.net.InetAddress.getByName("192.168.122.1"), 24)).isEqualTo("192.168.122.0/24");
        assertThat(EgressNamespace.hostAddresses()).as("this host's addresses, loopback aside").isNotEmpty()
                .noneMatch(a -> a.startsWith("127."));
    }

    @org.junit.jupiter.api.Test
    void kernelParametersGoBeforeTheArgumentsMeantForInit() {
        org.assertj.core.api.Assertions.assertThat(QemuArgv.withKernelParameter("console=ttyS0 rdinit=/bin/sleep -- 1000", "tsc_early_khz=1"))
                .isEqualTo("console=ttyS0 rdinit=/bin/sleep tsc_early_khz=1 -- 1000");
        org.assertj.core.api.Assertions.assertThat(QemuArgv.withKernelParameter("console=ttyS0", "tsc_early_khz=1"))
                .isEqualTo("console=ttyS0 tsc_early_khz=1");
    }
}
