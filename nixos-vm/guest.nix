# The production guest: boots from the host-provided kernel and initrd, mounts a read-only Nix
# store image (virtio-blk, serial "mvo_store") under a writable tmpfs overlay, and runs the shared
# task runner (./runner/mvo-runner.sh) once, which mounts the task shares and the cache disk and
# powers the VM off when the task is done. The slot disk is /var, mounted from the initrd.
{ config, lib, pkgs, ... }:
let
  runner = pkgs.writeShellScript "mvo-runner" (builtins.readFile ./runner/mvo-runner.sh);

  # Claude Code's native binary at the version pinned for every image and the host-side tests
  # (./agents/claude-code.json), checked against the sha512 committed there. It is linked against
  # glibc's usual loader path, which nix-ld provides below.
  pin = builtins.fromJSON (builtins.readFile ./agents/claude-code.json);
  platform = pin.platforms.${if pkgs.stdenv.hostPlatform.isAarch64 then "linux-arm64" else "linux-x64"};
  packageName = lib.last (lib.splitString "/" platform.package);
  claudeCode = pkgs.stdenvNoCC.mkDerivation {
    pname = "claude-code-native";
    version = pin.version;
    src = pkgs.fetchurl {
      url = "https://registry.npmjs.org/${platform.package}/-/${packageName}-${pin.version}.tgz";
      hash = platform.integrity;
    };
    sourceRoot = "package";
    dontStrip = true; # the executable carries its payload after the ELF sections
    installPhase = "install -Dm755 ${platform.binary} $out/bin/claude";
  };
  agentUser = "agent";
in
{
  options.mvo.guest.rosetta = lib.mkOption {
    type = lib.types.bool;
    default = false;
    description = "Mount Rosetta (vfkit on Apple Silicon) so x86_64 binaries run in the aarch64 guest.";
  };

  config = {
    system.stateVersion = "25.05";
    networking.hostName = "mvo-guest";

    boot.loader.grub.enable = false;
    boot.initrd.availableKernelModules = [
      "virtio_pci" "virtio_mmio" "virtio_blk" "virtio_net" "virtio_console"
      "9p" "9pnet_virtio" "virtiofs" "squashfs" "overlay" "ext4"
    ];
    boot.initrd.systemd.enable = true;
    boot.kernelParams = [ "mvo.guest=nixos" ];

    # Root is memory only: everything that must survive a task lives on the slot disk (/var) or
    # comes back through the shares.
    fileSystems."/" = { device = "none"; fsType = "tmpfs"; options = [ "mode=0755" "size=50%" ]; };
    fileSystems."/nix/.ro-store" = {
      device = "/dev/disk/by-id/virtio-mvo_store";
      fsType = "squashfs";
      options = [ "ro" ];
      neededForBoot = true;
    };
    fileSystems."/nix/.rw-store" = { device = "none"; fsType = "tmpfs"; options = [ "mode=0755" ]; neededForBoot = true; };
    fileSystems."/nix/store" = {
      device = "overlay";
      fsType = "overlay";
      options = [
        "lowerdir=/nix/.ro-store"
        "upperdir=/nix/.rw-store/upper"
        "workdir=/nix/.rw-store/work"
      ];
      depends = [ "/nix/.ro-store" "/nix/.rw-store" ];
      neededForBoot = true;
    };
    boot.initrd.systemd.services.mvo-rw-store-dirs = {
      description = "Create the writable Nix store overlay directories";
      wantedBy = [ "initrd-fs.target" ];
      before = [ "sysroot-nix-store.mount" ];
      after = [ "sysroot-nix-.rw\\x2dstore.mount" ];
      unitConfig.DefaultDependencies = false;
      serviceConfig.Type = "oneshot";
      script = "mkdir -p /sysroot/nix/.rw-store/upper /sysroot/nix/.rw-store/work";
    };

    # The slot disk is /var: mounted from the initrd (formatted on first use), so it is in place
    # before activation and systemd populate /var. The runner finds it mounted and leaves it; it
    # mounts the per-repository cache disk (serial mvo_cache) itself.
    fileSystems."/var" = {
      device = "/dev/disk/by-id/virtio-mvo_slot";
      fsType = "ext4";
      autoFormat = true;
      neededForBoot = true;
      options = [ "x-systemd.device-timeout=20s" ];
    };
    boot.initrd.systemd.initrdBin = [ pkgs.e2fsprogs ];
    systemd.services.mvo-task = {
      description = "microvm-orchestrator task runner";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" "local-fs.target" ];
      wants = [ "network-online.target" ];
      # socat: the api-only relay from the guest's loopback to the host over vsock (vfkit)
      path = [ pkgs.bash pkgs.coreutils pkgs.util-linux pkgs.e2fsprogs pkgs.gnugrep pkgs.gnused
               pkgs.git pkgs.nix pkgs.podman pkgs.iproute2 pkgs.socat claudeCode ];
      environment.HOME = "/root";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = runner;
        StandardOutput = "journal+console";
        StandardError = "journal+console";
        # The power button (vfkit "Stop", QMP system_powerdown) stops this unit with SIGTERM:
        # the runner ends the agent and still writes its results.
        TimeoutStopSec = "20s";
        KillMode = "mixed";
      };
    };
    services.logind.settings.Login.HandlePowerKey = "poweroff";

    # The agent never runs as root: the runner starts it as this user (named in /etc/mvo/agent-user,
    # uid 1000 in every image), which owns the workspace, its HOME, /tmp and the slot caches.
    users.groups.${agentUser}.gid = 1000;
    users.users.${agentUser} = {
      isNormalUser = true;
      uid = 1000;
      group = agentUser;
      home = "/home/${agentUser}";
      createHome = true;
      shell = pkgs.bash;
    };
    environment.etc."mvo/agent-user".text = "${agentUser}\n";
    # Claude Code's Bash tool needs bash; TLS needs the CA bundle (/etc/ssl/certs/ca-certificates.crt).
    environment.systemPackages = [ pkgs.bash pkgs.cacert pkgs.git claudeCode ];
    security.pki.installCACerts = true;
    programs.nix-ld.enable = true;
    boot.tmp.useTmpfs = true; # /tmp: mode 1777, in memory

    networking.useDHCP = true;
    networking.firewall.enable = false;
    virtualisation.podman.enable = true;
    virtualisation.rosetta = lib.mkIf config.mvo.guest.rosetta {
      enable = true;
      mountTag = "rosetta";
    };

    nix.settings.experimental-features = [ "nix-command" "flakes" ];
    nixpkgs.config.allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "claude-code" ];

    documentation.enable = false;
    services.getty.autologinUser = lib.mkForce null;
  };
}
