# The production guest: boots from the host-provided kernel and initrd, mounts a read-only Nix
# store image (virtio-blk, serial "mvo_store") under a writable overlay, and runs the shared task
# runner (./runner/mvo-runner.sh) once, which mounts the task shares and the cache disk and powers
# the VM off when the task is done. The slot disk is /var, mounted from the initrd.
#
# The repository's cache disk (virtio-blk serial "mvo_cache", ext4, one image per slot, repository
# and architecture; the host attaches only the current repository's) is mounted from the initrd at
# /nix/.mvo-cache (nosuid,nodev), formatted on first use. Its layout, as this image uses it:
#
#   nixos-store/          root's: what the guest adds to the image's Nix store, and its database
#     upper/ work/        the writable layer of /nix/store (overlayfs upper and work directories)
#     var-nix/            /nix/var/nix: the Nix database, profiles, gc roots
#     image               stamp: the image (toplevel and store registration) the database was
#                         loaded from; written only after the load, so a missing or different
#                         stamp means the store and database are dropped and started afresh
#   containers/<uid>/     the agent's rootless Podman storage (images, layers, volumes)
#   containers/root/      rootful Podman storage, so none is kept on the slot disk (/var)
#   home/ ws/             the runner's (agent-owned): the task's `cache` paths, see mvo-runner.sh
#   nix/                  the Debian images' single-user store; this image does not touch it
#
# Without a cache disk (or one that cannot be mounted) the same layout lives on a tmpfs at
# /nix/.mvo-cache and nothing is kept after the task. The runner mounts the same disk again at
# /run/mvo/cache for its own copies (one ext4 file system may be mounted at several places).
{ config, lib, pkgs, utils, ... }:
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
  # a boot step run once, its lines on the console (the host keeps the console as the task's log)
  consoleOneshot = {
    Type = "oneshot";
    RemainAfterExit = true;
    StandardOutput = "journal+console";
    StandardError = "journal+console";
  };
  agentUser = "agent";
  agentUid = toString config.users.users.${agentUser}.uid;
  agentGid = toString config.users.groups.${agentUser}.gid;

  cacheRoot = "/nix/.mvo-cache";
  storeRoot = "${cacheRoot}/nixos-store";
  containersRoot = "${cacheRoot}/containers";
  mountUnit = path: "${utils.escapeSystemdPath path}.mount";

  # Which image a kept store and database belong to: the system's toplevel (init= on the kernel
  # command line) and the digest of the store image's registration, which is what the database is
  # loaded from. $1 is the root the store image is mounted under: /sysroot in the initrd, "" after.
  imageIdentity = ''
    image_identity() {
      local o toplevel= digest=
      for o in $(< /proc/cmdline); do
        case $o in init=*) toplevel=''${o#init=}; toplevel=''${toplevel%/init} ;; esac
      done
      read -r digest _ < <(sha256sum "$1/nix/.ro-store/nix-path-registration")
      echo "toplevel=$toplevel registration-sha256=$digest"
    }
  '';

  toml = pkgs.formats.toml { };
  # Compose files run through podman-compose, which drives the podman command itself: docker-compose
  # would need Podman's API socket, which nothing serves in this guest (the agent has no systemd
  # user session). `docker compose` and `podman compose` reach it through compose_providers below.
  dockerCompose = pkgs.writeShellScriptBin "docker-compose" ''exec ${pkgs.podman-compose}/bin/podman-compose "$@"'';
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

    # Root is memory only: everything that must survive a task lives on the slot disk (/var), on
    # the repository's cache disk (${cacheRoot}, see the top of this file) or comes back through
    # the shares.
    fileSystems."/" = { device = "none"; fsType = "tmpfs"; options = [ "mode=0755" "size=50%" ]; };
    fileSystems."/nix/.ro-store" = {
      device = "/dev/disk/by-id/virtio-mvo_store";
      fsType = "squashfs";
      options = [ "ro" ];
      neededForBoot = true;
    };
    # The overlay module prefixes these with /sysroot in the initrd and creates the directories.
    fileSystems."/nix/store" = {
      overlay = {
        lowerdir = [ "/nix/.ro-store" ];
        upperdir = "${storeRoot}/upper";
        workdir = "${storeRoot}/work";
      };
      neededForBoot = true;
    };

    # The cache disk, in the initrd before the store overlay: mounted (formatted on first use) or a
    # tmpfs in its place, the kept store dropped when another image made it, the layout created and
    # /nix/var/nix bound to it. The disk is looked for once udev has handled every device the
    # kernel announced at boot, so a missing cache disk is told from a late one without waiting
    # out a device timeout (a nofail fstab entry could only guess with one).
    boot.initrd.systemd.services.mvo-cache-disk = {
      description = "Cache disk for the Nix store and container storage";
      requiredBy = [ (mountUnit "/sysroot/nix/store") ];
      requires = [ (mountUnit "/sysroot/nix/.ro-store") ];
      after = [ (mountUnit "/sysroot") (mountUnit "/sysroot/nix/.ro-store") "systemd-udev-trigger.service" ];
      before = [
        (mountUnit "/sysroot/nix/store")
        "rw-${utils.escapeSystemdPath "/sysroot/nix/store"}.service"
        "initrd-fs.target"
      ];
      unitConfig.DefaultDependencies = false;
      serviceConfig = consoleOneshot;
      script = ''
        export PATH=/bin:/sbin
        ${imageIdentity}
        log() { echo "mvo-cache-disk: $*"; }
        cache=/sysroot${cacheRoot}
        store=/sysroot${storeRoot}
        containers=/sysroot${containersRoot}

        find_cache_disk() { # by serial, like the runner: never by position
          local b
          for b in /sys/block/vd*; do
            [ -e "$b/serial" ] || continue
            if [ "$(< "$b/serial")" = mvo_cache ]; then echo "/dev/''${b##*/}"; return 0; fi
          done
          return 1
        }
        has_ext_filesystem() { # the ext2/3/4 superblock magic 0xEF53 at byte 1080
          [ "$(dd if="$1" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 53ef ]
        }
        mount_cache_disk() {
          local dev
          udevadm settle --timeout=30 || log "udev has not settled; looking for the cache disk anyway"
          dev=$(find_cache_disk) || { log "no cache disk: the Nix store and container storage are in memory"; return 1; }
          if ! has_ext_filesystem "$dev"; then
            log "formatting the cache disk $dev (first use)"
            mkfs.ext4 -q -F "$dev" || { log "cannot format $dev"; return 1; }
          fi
          mount -t ext4 -o nosuid,nodev "$dev" "$cache" || { log "cannot mount the cache disk $dev"; return 1; }
          log "cache disk $dev on ${cacheRoot}: the Nix store and container storage are kept"
        }
        # A store and database another image made (or whose database load never finished) are
        # dropped whole: the database would list that image's paths, which this image's lower
        # layer does not have. Container storage does not depend on the image and stays.
        prepare_layout() {
          local want have
          want=$(image_identity /sysroot)
          if [ -e "$store" ]; then
            have=$(cat "$store/image" 2>/dev/null || true)
            if [ "$have" != "$want" ]; then
              if [ -n "$have" ]; then log "the kept Nix store was made by another image ($have); starting it afresh"
              else log "the kept Nix store was never completed; starting it afresh"; fi
              rm -f "$store/image" && rm -rf "$store" || return 1
            fi
          fi
          mkdir -p -m 0755 "$store" "$store/upper" "$store/work" "$store/var-nix" "$containers" || return 1
          mkdir -p -m 0700 "$containers/root" "$containers/${agentUid}" || return 1
          chown -h ${agentUid}:${agentGid} "$containers/${agentUid}" || return 1
        }

        mkdir -p "$cache"
        on_disk=0
        if mount_cache_disk; then
          on_disk=1
          if ! prepare_layout; then
            log "cannot prepare the cache disk; using memory instead"
            umount "$cache" || umount -l "$cache"
            on_disk=0
          fi
        fi
        if [ "$on_disk" = 0 ]; then
          mount -t tmpfs -o mode=0755,nosuid,nodev,size=50% mvo-cache "$cache"
          prepare_layout
        fi
        mkdir -p /sysroot/nix/var/nix
        mount --bind "$store/var-nix" /sysroot/nix/var/nix
      '';
    };

    # The image's own paths are valid in the database before anything can use Nix: loaded from the
    # store image's registration when the database is new or was dropped, then stamped.
    systemd.services.mvo-nix-db = {
      description = "Register the image's store paths in the Nix database";
      wantedBy = [ "sysinit.target" ];
      requiredBy = [ "nix-daemon.socket" "nix-daemon.service" ];
      before = [ "sysinit.target" "nix-daemon.socket" "nix-daemon.service" "shutdown.target" ];
      after = [ "local-fs.target" ];
      conflicts = [ "shutdown.target" ];
      unitConfig = {
        DefaultDependencies = false;
        RequiresMountsFor = [ "/nix/store" "/nix/var/nix" ];
      };
      path = [ config.nix.package pkgs.coreutils ];
      serviceConfig = consoleOneshot;
      script = ''
        ${imageIdentity}
        # the daemon's socket file is kept on the cache disk with the rest of /nix/var/nix
        rm -f /nix/var/nix/daemon-socket/socket
        want=$(image_identity "")
        [ "$(cat ${storeRoot}/image 2>/dev/null || true)" != "$want" ] || exit 0
        echo "mvo-nix-db: registering the image's store paths in the Nix database"
        nix-store --load-db < /nix/.ro-store/nix-path-registration
        sync
        printf '%s\n' "$want" > ${storeRoot}/image.new
        mv ${storeRoot}/image.new ${storeRoot}/image
        sync
      '';
    };

    # The slot disk is /var: mounted from the initrd (formatted on first use), so it is in place
    # before activation and systemd populate /var. The runner finds it mounted and leaves it. It
    # holds nothing of one repository: the Nix store and container storage are on the cache disk.
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
               pkgs.git config.nix.package config.virtualisation.podman.package pkgs.iproute2 pkgs.socat
               claudeCode ];
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
      # Rootless Podman maps a container's other users onto these (newuidmap, newgidmap).
      subUidRanges = [ { startUid = 100000; count = 65536; } ];
      subGidRanges = [ { startGid = 100000; count = 65536; } ];
    };
    environment.etc."mvo/agent-user".text = "${agentUser}\n";
    # The runner starts the agent without no_new_privs here: rootless Podman maps the agent's
    # subordinate ids through the setuid newuidmap/newgidmap (nixos-vm/runner/mvo-runner.sh).
    environment.etc."mvo/rootless-containers".text = "";
    # Claude Code's Bash tool needs bash; TLS needs the CA bundle (/etc/ssl/certs/ca-certificates.crt).
    environment.systemPackages = [ pkgs.bash pkgs.cacert pkgs.git claudeCode pkgs.podman-compose dockerCompose ];
    security.pki.installCACerts = true;
    programs.nix-ld.enable = true;
    boot.tmp.useTmpfs = true; # /tmp: mode 1777, in memory

    networking.useDHCP = true;
    networking.firewall.enable = false;

    # Containers: rootless Podman for the agent, `docker` as its alias, compose files through
    # podman-compose. Storage is on the cache disk (${containersRoot}, see the top of this file),
    # never on the slot disk (/var), which other repositories share.
    virtualisation.podman = {
      enable = true;
      dockerCompat = true;
      defaultNetwork.settings.dns_enabled = true; # compose services find each other by name
    };
    virtualisation.containers.storage.settings.storage = {
      graphroot = "${containersRoot}/root";
      rootless_storage_path = "${containersRoot}/$UID"; # containers/storage expands $UID
    };
    virtualisation.containers.containersConf.settings.engine = {
      # No systemd user session runs for the agent: cgroupfs and a file event log, instead of a
      # fallback warning on every podman command.
      cgroup_manager = "cgroupfs";
      events_logger = "file";
      compose_providers = [ "${pkgs.podman-compose}/bin/podman-compose" ];
      compose_warning_logs = false;
    };
    # Short names ("postgres:16") are looked up on Docker Hub only and never prompt: an agent has no
    # terminal to answer a prompt with. Replaces the module's file (its search list has two
    # registries and, in older nixpkgs, the v1 format, which cannot carry short-name-mode).
    environment.etc."containers/registries.conf".source = lib.mkForce (toml.generate "registries.conf" {
      unqualified-search-registries = [ "docker.io" ];
      short-name-mode = "disabled";
    });
    # Rootless Podman's runtime directory ($XDG_RUNTIME_DIR, else /run/user/<uid> when it is the
    # user's and 0700): no login session creates it here.
    systemd.tmpfiles.rules = [ "d /run/user/${agentUid} 0700 ${agentUser} ${agentUser} -" ];
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
