#!/bin/sh
# Installs what building, testing and running on a Debian host needs, then builds the guest images
# (the default agent image with Claude Code, and the scripted-agent image the fast tests boot).
# qemu-system-arm runs the arm64 agent guest (scripts/build-guest.sh agent-arm64), which the vfkit
# simulator (scripts/vfkit-simulator) boots for the simulated-Mac tests: it is built here too
# (about 2.5 min with its downloads cached, plus ≈250 MB of arm64 packages on a fresh machine).
# busybox-static also gives the simulated Mac's DHCP server (udhcpd); iproute2 its namespace.
# Idempotent. Run as root (or with sudo) on a fresh machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# socat: the host-side test of the guest runner's api-only relay (GuestListenersTest, a unix socket standing in
# for vsock, which this kernel lacks); the arm64 guest carries its own arm64 socat.
pkgs="qemu-system-x86 qemu-system-arm busybox-static cpio xz-utils git nix-bin maven chromium chromium-driver python3 perl squashfs-tools util-linux curl ca-certificates slirp4netns nftables iproute2 socat"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from another source (it often does); only install Debian's when there is none.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian 12 packages only Java 17; the build needs 21+ (Temurin, or a backport). find-java.sh
# explains what to install when none is found.
"$here/find-java.sh" >/dev/null || exit 1
# The guests' kernel is resolved through apt's package lists: make sure they exist.
apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]' || $SUDO apt-get update -qq
"$here/build-guest.sh" all
"$here/build-guest.sh" agent-arm64
