#!/bin/sh
# Builds the small Linux test guest (Debian kernel + busybox + git) that the test-suite and the
# demo boot under QEMU. It runs the same in-guest task runner as the production image
# (nixos-vm/runner/mvo-runner.sh); only the init that starts it is specific to this guest.
#
# Output, in $MVO_GUEST_DIR (default ~/.cache/microvm-orchestrator/test-guest):
#   vmlinux        uncompressed PVH kernel (QEMU boots it directly: no in-guest decompression)
#   initrd.cpio.gz initramfs with busybox, git, the kernel modules and the runner
#   kernel.version the Debian kernel package it came from
# Idempotent: a guest built from the same kernel package and the same runner is reused.
# Needs: apt-get (download only, no root), dpkg-deb, cpio, busybox-static, git, xz, python3 or od.
set -eu

repo_root=$(cd "$(dirname "$0")/.." && pwd)
out=${MVO_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm-orchestrator/test-guest}
runner="$repo_root/nixos-vm/runner/mvo-runner.sh"
mkdir -p "$out"

die() { echo "build-test-guest: $*" >&2; exit 1; }
for tool in apt-cache apt-get dpkg-deb cpio gzip xz git; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (Debian: apt-get install cpio xz-utils git)"
done
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file_is_static=$(ldd "$busybox" 2>&1 || true)
case "${file_is_static:-}" in
    *"not a dynamic"*|*"statically linked"*) ;;
    *) die "need a static busybox (Debian: apt-get install busybox-static)" ;;
esac

# The kernel package linux-image-amd64 currently depends on; never hard-coded.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (run apt-get update?)"

stamp="$kpkg $(cat "$runner" "$0" | sha256sum | cut -d' ' -f1)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinux" ] && [ -f "$out/initrd.cpio.gz" ]; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mvo-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- kernel -------------------------------------------------------------------------------
deb=$(ls "$out"/"$kpkg"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    (cd "$out" && apt-get download "$kpkg" >&2) || die "apt-get download $kpkg failed"
    deb=$(ls "$out"/"$kpkg"_*.deb | head -n1)
fi
dpkg-deb -x "$deb" "$work/kpkg"
vmlinuz=$(ls "$work"/kpkg/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$work/kpkg/lib/modules/$kver"

# The payload is XZ-compressed; unpacking it yields an ELF vmlinux with a PVH entry point.
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
[ -n "$offset" ] || die "no XZ payload in $vmlinuz"
tail -c +$((offset + 1)) "$vmlinuz" | xz -dc 2>/dev/null > "$work/vmlinux" || true
head -c 4 "$work/vmlinux" | grep -q 'ELF' || die "decompressed kernel is not an ELF image"

# --- initramfs tree -------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib/mvo "$root"/etc \
         "$root"/proc "$root"/sys "$root"/dev "$root"/tmp "$root"/run "$root"/var "$root"/root \
         "$root"/workspace "$root"/lib/modules
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

copy_with_libs() {
    bin=$1
    mkdir -p "$root$(dirname "$bin")"
    cp -L "$bin" "$root$bin"
    for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
        mkdir -p "$root$(dirname "$lib")"
        [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
    done
}
copy_with_libs "$(command -v git)"
rm -f "$root/bin/git"   # busybox has no git applet; make sure nothing shadows the real one

# Modules in dependency order, resolved from each module's own "depends=" field (the package
# ships no modules.dep); whatever is built into the kernel has no file and is skipped.
wanted="virtio_mmio virtio_pci virtio_blk virtio_net 9p 9pnet_virtio crc32c_generic crc32c_intel ext4 evdev button"
(cd "$moddir" && find kernel -name '*.ko*') | awk '{f=$0; sub(".*/","",f); sub("\\.ko.*$","",f); gsub("-","_",f); print f, $0}' > "$work/modindex"
: > "$work/modorder"
add_module() {
    local path deps dep  # recursive: dash and busybox sh both support local
    path=$(awk -v n="$1" '$1==n {print $2; exit}' "$work/modindex")
    [ -n "$path" ] || return 0
    grep -qx "$path" "$work/modorder" && return 0
    case "$path" in
        *.xz) deps=$(xz -dc "$moddir/$path" | LC_ALL=C grep -ao 'depends=[a-z0-9_,-]*' | head -n1) ;;
        *) deps=$(LC_ALL=C grep -ao 'depends=[a-z0-9_,-]*' "$moddir/$path" | head -n1) ;;
    esac
    for dep in $(echo "${deps#depends=}" | tr ',' ' '); do
        add_module "$(echo "$dep" | tr - _)"
    done
    echo "$path" >> "$work/modorder"
}
for m in $wanted; do add_module "$m"; done
while read -r path; do
    mkdir -p "$root/lib/modules/$(dirname "$path")"
    case "$path" in
        *.ko.xz) xz -dc "$moddir/$path" > "$root/lib/modules/${path%.xz}"; echo "${path%.xz}" ;;
        *) cp "$moddir/$path" "$root/lib/modules/$path"; echo "$path" ;;
    esac
done < "$work/modorder" > "$root/etc/mvo-modules"

cp "$runner" "$root/usr/lib/mvo/mvo-runner.sh"
chmod 755 "$root/usr/lib/mvo/mvo-runner.sh"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# The init of this guest only: bring up devices and the network, then hand over to the runner.
cat > "$root/init" <<'INIT'
#!/bin/sh
export PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/mvo-modules
hostname mvo-guest
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    # QEMU user-mode networking: fixed addresses, no DHCP round trip needed.
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
fi
# The power button (QMP system_powerdown) asks the runner to finish; a guest booted with
# mvo.test.ignore_shutdown=1 ignores it, so tests can prove the forced stop.
if ! grep -q 'mvo.test.ignore_shutdown=1' /proc/cmdline; then
    for ev in /sys/class/input/event*; do
        [ -e "$ev/device/name" ] || continue
        case "$(cat "$ev/device/name")" in
            *"Power Button"*)
                (head -c 1 "/dev/input/${ev##*/}" >/dev/null && echo "mvo-init: power button" && kill -TERM -1; sleep 2; sync; poweroff -f) &
                ;;
        esac
    done
fi
/usr/lib/mvo/mvo-runner.sh
sync
poweroff -f
INIT
chmod 755 "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) > "$work/initrd.cpio.gz"

mv "$work/vmlinux" "$out/vmlinux"
mv "$work/initrd.cpio.gz" "$out/initrd.cpio.gz"
echo "$kpkg" > "$out/kernel.version"
echo "$stamp" > "$out/stamp"
echo "$out"
