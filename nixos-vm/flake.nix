{
  description = "microvm-orchestrator production guest: kernel, initrd and a read-only Nix store image";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      # aarch64-linux runs under vfkit on Apple Silicon (x86_64 binaries through Rosetta);
      # x86_64-linux runs under QEMU on Linux hosts.
      guests = {
        aarch64-linux = { console = "hvc0"; rosetta = true; };
        x86_64-linux = { console = "ttyS0"; rosetta = false; };
      };

      # What the task runner, the drivers and the test guest share lives in ./runner.
      baseCmdline = nixpkgs.lib.removeSuffix "\n" (builtins.readFile ./runner/kernel-cmdline);
      agentPin = builtins.fromJSON (builtins.readFile ./agents/claude-code.json);

      mkGuest = system: settings:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          nixos = nixpkgs.lib.nixosSystem {
            inherit system;
            modules = [
              ./guest.nix
              { mvo.guest.rosetta = settings.rosetta; }
            ];
          };
          cfg = nixos.config;
          toplevel = cfg.system.build.toplevel;
          storeImage = pkgs.callPackage "${nixpkgs}/nixos/lib/make-squashfs.nix" {
            storeContents = [ toplevel ];
            comp = "zstd -Xcompression-level 6";
          };
          kernelFile = if system == "aarch64-linux" then "Image" else "bzImage";
          # The orchestrator prepends "console=<console>"; this is the image-specific rest.
          imageCmdline = "init=${toplevel}/init ${toString cfg.boot.kernelParams}";
          # The manifest every image carries (vm/GuestImage.java reads it; scripts/build-guest.sh writes
          # the same fields): paths are plain names in the output directory.
          manifest = builtins.toJSON {
            manifest_version = 1;
            image_version = "nixos-${cfg.system.nixos.label}-${system}";
            architecture = if system == "aarch64-linux" then "aarch64" else "x86_64";
            kernel = "kernel";
            initrd = "initrd";
            cmdline = "${baseCmdline} ${imageCmdline}";
            console = settings.console;
            disks = [ { file = "store.img"; serial = "mvo_store"; read_only = true; } ];
            agent_user = { name = "agent"; uid = 1000; gid = 1000; home = "/home/agent"; };
            agents = [ { name = agentPin.name; command = agentPin.command; version = agentPin.version; } ];
            # nix: Nix with flakes (nix develop through the daemon), its store kept on the cache
            # disk; containers: rootless Podman with `docker` and compose, storage on the cache disk.
            features = [ "nix" "containers" ];
          };
        in
        pkgs.runCommand "mvo-guest-${system}" { inherit manifest; passAsFile = [ "manifest" ]; } ''
          mkdir -p $out
          # vfkit needs an uncompressed kernel on arm64 (Image is uncompressed).
          ln -s ${cfg.boot.kernelPackages.kernel}/${kernelFile} $out/kernel
          ln -s ${cfg.system.build.initialRamdisk}/${cfg.system.boot.loader.initrdFile} $out/initrd
          ln -s ${storeImage} $out/store.img
          cp $manifestPath $out/mvo-image.json
        '';
    in
    {
      packages = nixpkgs.lib.mapAttrs (system: settings: {
        guest = mkGuest system settings;
        default = mkGuest system settings;
      }) guests;

      nixosModules.guest = ./guest.nix;
    };
}
