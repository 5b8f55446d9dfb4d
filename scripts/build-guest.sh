#!/bin/sh
# Builds the Debian-based Linux guest images that QEMU boots on Linux hosts (and the test-suite
# everywhere). Both run the same in-guest task runner as the production NixOS image
# (nixos-vm/runner/mvo-runner.sh) and carry the same manifest (mvo-image.json), which is the only
# thing the orchestrator reads to boot an image.
#
#   scripts/build-guest.sh [agent|scripted|all]      (default: all)
#
# agent     the default guest: a small initrd (busybox, kernel modules, init, runner) plus a
#           read-only squashfs store image on virtio-blk (serial mvo_store, mounted on /usr) with
#           bash, coreutils, git, CA certificates and Claude Code's native binary, pinned in
#           nixos-vm/agents/claude-code.json and checked against the sha512 committed there.
# scripted  the same init and user, everything in the initrd, no Claude Code: for the fast tests
#           that run a scripted shell agent (agent_command).
#
# Output: $MVO_IMAGES_DIR (default ~/.cache/microvm-orchestrator/images)/debian-<variant>-x86_64;
# the last lines printed are the image directories. MVO_GUEST_DIR overrides the agent image's
# directory (it is the orchestrator's default guest_dir). Idempotent: an image built from the same
# kernel package, pin and scripts is reused.
# Needs: apt-get (download only, no root), dpkg-deb, cpio, busybox-static, git, bash, util-linux,
# xz, gzip, python3, mksquashfs (squashfs-tools), npm or curl.
set -eu

repo_root=$(cd "$(dirname "$0")/.." && pwd)
runner="$repo_root/nixos-vm/runner/mvo-runner.sh"
base_cmdline=$(tr -d '\n' < "$repo_root/nixos-vm/runner/kernel-cmdline")
pin="$repo_root/nixos-vm/agents/claude-code.json"
images=${MVO_IMAGES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm-orchestrator/images}
arch=x86_64
agent_name=agent
agent_uid=1000

die() { echo "build-guest: $*" >&2; exit 1; }

variants=${1:-all}
case "$variants" in
    all) variants="scripted agent" ;;
    agent|scripted) ;;
    *) die "unknown variant '$variants' (agent, scripted or all)" ;;
esac

for tool in apt-cache apt-get dpkg-deb dpkg-query cpio gzip xz git python3; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (Debian: scripts/install-deps.sh)"
done
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file_is_static=$(ldd "$busybox" 2>&1 || true)
case "${file_is_static:-}" in
    *"not a dynamic"*|*"statically linked"*) ;;
    *) die "need a static busybox (Debian: apt-get install busybox-static)" ;;
esac

pin_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d:=d[k] for k in sys.argv[2:]]; print(d)' "$pin" "$@"; }

# The kernel package linux-image-amd64 currently depends on; never hard-coded.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (run apt-get update?)"

downloads="$images/downloads"
mkdir -p "$downloads"
work=$(mktemp -d "${TMPDIR:-/tmp}/mvo-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- kernel and modules (shared by both variants) ----------------------------------------------
kernel_ready=0
prepare_kernel() {
    [ "$kernel_ready" = 1 ] && return 0
    deb=$(ls "$downloads"/"$kpkg"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        (cd "$downloads" && apt-get download "$kpkg" >&2 2>/dev/null) || (cd "$downloads" && apt-get download "$kpkg" >&2) \
            || die "apt-get download $kpkg failed"
        deb=$(ls "$downloads"/"$kpkg"_*.deb | head -n1)
    fi
    dpkg-deb -x "$deb" "$work/kpkg"
    vmlinuz=$(ls "$work"/kpkg/boot/vmlinuz-* | head -n1)
    kver=${vmlinuz##*/vmlinuz-}
    moddir="$work/kpkg/lib/modules/$kver"
    # The payload is XZ-compressed; unpacking it yields an ELF vmlinux with a PVH entry point, which
    # QEMU boots directly (no in-guest decompression).
    offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
    [ -n "$offset" ] || die "no XZ payload in $vmlinuz"
    tail -c +$((offset + 1)) "$vmlinuz" | xz -dc 2>/dev/null > "$work/vmlinux" || true
    head -c 4 "$work/vmlinux" | grep -q 'ELF' || die "decompressed kernel is not an ELF image"

    # Modules in dependency order, resolved from each module's own "depends=" field (the package
    # ships no modules.dep); whatever is built into the kernel has no file and is skipped.
    wanted="virtio_mmio virtio_pci virtio_blk virtio_net 9p 9pnet_virtio crc32c_generic crc32c_intel ext4 squashfs evdev button"
    (cd "$moddir" && find kernel -name '*.ko*') | awk '{f=$0; sub(".*/","",f); sub("\\.ko.*$","",f); gsub("-","_",f); print f, $0}' > "$work/modindex"
    : > "$work/modorder"
    for m in $wanted; do add_module "$m"; done
    kernel_ready=1
}

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

# --- the /usr tree: host binaries with their libraries, placed under usr/ ------------------------
# Debian 12 is merged-/usr: /bin, /lib and /lib64 are links into /usr, so every path is normalised
# to its /usr form and the initrd links /lib and /lib64 there.
usr_path() {
    case "$1" in
        /usr/*) echo "$1" ;;
        /bin/*|/sbin/*|/lib/*|/lib64/*) echo "/usr$1" ;;
        *) echo "$1" ;;
    esac
}

copy_with_libs() { # tree binary
    tree=$1 bin=$2
    dest="$tree$(usr_path "$bin")"
    mkdir -p "$(dirname "$dest")"
    [ -e "$dest" ] || cp -L "$bin" "$dest"
    copy_libs_of "$tree" "$bin"
}

copy_libs_of() { # tree binary: the shared libraries the binary loads, at their /usr paths
    tree=$1 bin=$2
    ldd "$bin" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
        ldest="$tree$(usr_path "$lib")"
        mkdir -p "$(dirname "$ldest")"
        [ -e "$ldest" ] || cp -L "$lib" "$ldest"
    done
}

package_binaries() { # Debian package → its executables
    dpkg-query -L "$1" 2>/dev/null | grep -E '^(/usr)?/s?bin/[^/]+$' || true
}

fill_usr() { # tree variant
    tree=$1
    for b in bash git setpriv; do
        p=$(command -v "$b") || die "missing host binary: $b (Debian: scripts/install-deps.sh)"
        copy_with_libs "$tree" "$p"
    done
    if [ "$2" = agent ]; then
        for pkg in coreutils grep sed findutils diffutils gzip tar; do
            for b in $(package_binaries "$pkg"); do
                [ -f "$b" ] && copy_with_libs "$tree" "$b"
            done
        done
        fetch_claude "$tree"
    fi
}

# Claude Code's native binary from the pinned npm platform package, checked against the pin.
fetch_claude() {
    tree=$1
    pkg=$(pin_field platforms linux-x64 package)
    version=$(pin_field version)
    integrity=$(pin_field platforms linux-x64 integrity)
    binary=$(pin_field platforms linux-x64 binary)
    tarball="$downloads/$(echo "$pkg" | tr '/@' '__')-$version.tgz"
    if [ ! -f "$tarball" ]; then
        name=${pkg#@*/}
        url="https://registry.npmjs.org/$pkg/-/$name-$version.tgz"
        if command -v curl >/dev/null 2>&1; then
            curl -fsSL -o "$tarball.part" "$url" || die "cannot download $url"
        else
            (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null) || die "npm pack $pkg@$version failed"
            mv "$work"/*.tgz "$tarball.part"
        fi
        mv "$tarball.part" "$tarball"
    fi
    got="sha512-$(python3 -c 'import hashlib,base64,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$tarball")"
    if [ "$got" != "$integrity" ]; then
        rm -f "$tarball"
        die "$pkg@$version does not match the sha512 pinned in nixos-vm/agents/claude-code.json (got $got)"
    fi
    mkdir -p "$work/claude" "$tree/usr/lib/claude-code" "$tree/usr/bin"
    tar -xzf "$tarball" -C "$work/claude" "package/$binary"
    mv "$work/claude/package/$binary" "$tree/usr/lib/claude-code/claude"
    chmod 755 "$tree/usr/lib/claude-code/claude"
    # its libraries (glibc's libc, libm, libdl, libpthread, librt), as ldd resolves them here
    copy_libs_of "$tree" "$tree/usr/lib/claude-code/claude"
    ln -sf ../lib/claude-code/claude "$tree/usr/bin/claude"
}

# --- the initrd: busybox, modules, init, runner, users -----------------------------------------
make_initrd_tree() { # root variant
    root=$1
    mkdir -p "$root"/bin "$root"/sbin "$root"/usr "$root"/etc/mvo "$root"/etc/ssl/certs "$root"/proc "$root"/sys \
             "$root"/dev "$root"/tmp "$root"/run "$root"/var "$root"/root "$root"/home/$agent_name "$root"/workspace \
             "$root"/modules "$root"/mvo
    chmod 1777 "$root/tmp"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list); do
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    ln -s /usr/bin/bash "$root/bin/bash"
    while read -r path; do
        mkdir -p "$root/modules/$(dirname "$path")"
        case "$path" in
            *.ko.xz) xz -dc "$moddir/$path" > "$root/modules/${path%.xz}"; echo "${path%.xz}" ;;
            *) cp "$moddir/$path" "$root/modules/$path"; echo "$path" ;;
        esac
    done < "$work/modorder" > "$root/etc/mvo-modules"
    cp "$runner" "$root/mvo/mvo-runner.sh"
    chmod 755 "$root/mvo/mvo-runner.sh"
    [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:%s:%s:%s:/home/%s:/bin/bash\n' "$agent_name" "$agent_uid" "$agent_uid" "$agent_name" "$agent_name" > "$root/etc/passwd"
    printf 'root:x:0:\n%s:x:%s:\n' "$agent_name" "$agent_uid" > "$root/etc/group"
    echo "$agent_name" > "$root/etc/mvo/agent-user"
    echo /bin/bash > "$root/etc/shells"; echo /bin/sh >> "$root/etc/shells"
    [ "$2" = agent ] && echo mvo_store > "$root/etc/mvo/store-serial"
    cat > "$root/init" <<'INIT'
#!/bin/sh
# The init of the Debian guests: devices, the store disk, the network; then the shared runner.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m" 2>/dev/null; done < /etc/mvo-modules
# The read-only store (bash, coreutils, git, Claude Code) is found by its serial and backs /usr.
if [ -f /etc/mvo/store-serial ]; then
    want=$(cat /etc/mvo/store-serial) store=
    for b in /sys/block/vd*; do
        [ -e "$b/serial" ] && [ "$(cat "$b/serial")" = "$want" ] && store=/dev/${b##*/}
    done
    if [ -z "$store" ] || ! mount -t squashfs -o ro "$store" /usr; then
        echo "mvo-init: the store disk (serial $want) is missing or cannot be mounted; the image needs it" >&2
        poweroff -f
    fi
fi
hostname mvo-guest
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    # QEMU user-mode networking: fixed addresses, no DHCP round trip needed.
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
    echo "nameserver 10.0.2.3" > /etc/resolv.conf
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
/mvo/mvo-runner.sh
sync
poweroff -f
INIT
    chmod 755 "$root/init"
}

# --- the manifest ---------------------------------------------------------------------------
write_manifest() { # dir variant version
    python3 - "$1/mvo-image.json" "$2" "$3" "$base_cmdline" "$pin" "$agent_name" "$agent_uid" <<'PY'
import json, sys
path, variant, version, cmdline, pin, user, uid = sys.argv[1:8]
m = {
    "manifest_version": 1,
    "image_version": version,
    "architecture": "x86_64",
    "kernel": "vmlinux",
    "initrd": "initrd.cpio.gz",
    "cmdline": cmdline,
    "console": "ttyS0",
    "disks": [],
    "agent_user": {"name": user, "uid": int(uid), "gid": int(uid), "home": "/home/" + user},
    "agents": [],
}
if variant == "agent":
    p = json.load(open(pin))
    m["disks"].append({"file": "store.img", "serial": "mvo_store", "read_only": True})
    m["agents"].append({"name": p["name"], "command": p["command"], "version": p["version"],
                        "package": p["platforms"]["linux-x64"]["package"],
                        "integrity": p["platforms"]["linux-x64"]["integrity"]})
with open(path + ".part", "w") as f:
    json.dump(m, f, indent=2)
    f.write("\n")
import os
os.replace(path + ".part", path)
PY
}

build_variant() { # variant
    variant=$1
    out="$images/debian-$variant-$arch"
    [ "$variant" = agent ] && [ -n "${MVO_GUEST_DIR:-}" ] && out=$MVO_GUEST_DIR
    stamp="$kpkg $(cat "$runner" "$0" "$pin" "$repo_root/nixos-vm/runner/kernel-cmdline" | sha256sum | cut -c1-16)"
    if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/mvo-image.json" ]; then
        echo "$out"
        return 0
    fi
    prepare_kernel
    echo "build-guest: building the $variant image in $out" >&2
    root="$work/root-$variant"
    make_initrd_tree "$root" "$variant"
    mkdir -p "$out"
    rm -f "$out/mvo-image.json" "$out/stamp"
    if [ "$variant" = agent ]; then
        command -v mksquashfs >/dev/null 2>&1 || die "missing tool: mksquashfs (Debian: apt-get install squashfs-tools)"
        store="$work/store-$variant"
        mkdir -p "$store"
        fill_usr "$store" agent
        # The store's root is the guest's /usr. zstd: fast to decompress, which matters under TCG.
        mksquashfs "$store/usr" "$out/store.img.part" -noappend -quiet -comp zstd -all-root >&2 \
            || die "mksquashfs failed"
        mv "$out/store.img.part" "$out/store.img"
    else
        fill_usr "$root" scripted
        rm -f "$out/store.img"
    fi
    (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -6) > "$out/initrd.cpio.gz.part"
    mv "$out/initrd.cpio.gz.part" "$out/initrd.cpio.gz"
    cp "$work/vmlinux" "$out/vmlinux.part" && mv "$out/vmlinux.part" "$out/vmlinux"
    write_manifest "$out" "$variant" "debian-12-$variant-$arch-$(echo "$stamp" | tr ' ' '-')"
    echo "$kpkg" > "$out/kernel.version"
    echo "$stamp" > "$out/stamp"
    echo "$out"
}

for v in $variants; do build_variant "$v"; done
