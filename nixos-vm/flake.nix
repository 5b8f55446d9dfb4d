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
          # The drivers prepend "console=<device>"; this is the image-specific rest.
          imageCmdline = "init=${toplevel}/init ${toString cfg.boot.kernelParams}";
        in
        pkgs.runCommand "mvo-guest-${system}" { } ''
          mkdir -p $out
          # vfkit needs an uncompressed kernel on arm64 (Image is uncompressed).
          ln -s ${cfg.boot.kernelPackages.kernel}/${kernelFile} $out/kernel
          ln -s ${cfg.system.build.initialRamdisk}/${cfg.system.boot.loader.initrdFile} $out/initrd
          ln -s ${storeImage} $out/store.img
          echo 'console=${settings.console} ${baseCmdline} ${imageCmdline}' > $out/cmdline
          echo '${settings.console}' > $out/console
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
