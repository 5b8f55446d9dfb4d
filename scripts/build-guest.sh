#!/bin/sh
# Builds the Debian-based Linux guest images that QEMU boots on Linux hosts (and the test-suite
# everywhere). Both run the same in-guest task runner as the production NixOS image
# (nixos-vm/runner/mvo-runner.sh) and carry the same manifest (mvo-image.json), which is the only
# thing the orchestrator reads to boot an image.
#
#   scripts/build-guest.sh [agent|scripted|agent-arm64|all]      (default: all = scripted + agent)
#
# agent     the default guest: a small initrd (busybox, kernel modules, init, runner) plus a
#           read-only squashfs store image on virtio-blk (serial mvo_store, mounted on /usr) with
#           bash, coreutils, git, CA certificates, Debian's Nix (nix-bin: single-user, the agent's,
#           its /nix on the repository's cache disk; manifest feature "nix") and Claude Code's native
#           binary, pinned in nixos-vm/agents/claude-code.json and checked against the sha512
#           committed there.
# scripted  the same init and user, everything in the initrd, no Claude Code: for the fast tests
#           that run a scripted shell agent (agent_command).
# agent-arm64  the agent image for arm64 (aarch64) guests: vfkit on Apple Silicon, or
#           qemu-system-aarch64 -M virt (scripts/boot-arm64-guest.sh). Built from Debian's arm64
#           packages fetched through a private apt state (the host's sources and keyrings, its own
#           lists and caches under $MVO_IMAGES_DIR/downloads/arm64; the host's apt configuration
#           and dpkg architectures are never changed), with the same runner, init, agent user and
#           store (Nix included), Claude Code's linux-arm64 binary at the same pin, the kernel as the uncompressed
#           arm64 Image vfkit needs and the console on hvc0 (virtio console). Not part of `all`.
#
# Output: $MVO_IMAGES_DIR (default ~/.cache/microvm-orchestrator/images)/debian-<variant>-x86_64
# (agent-arm64: debian-agent-aarch64);
# the last lines printed are the image directories. MVO_GUEST_DIR overrides the agent image's
# directory (it is the orchestrator's default guest_dir). Idempotent: an image built from the same
# kernel package, pin and scripts is reused.
# Needs: apt-get (download only, no root), dpkg-deb, cpio, busybox-static, git, bash, util-linux,
# xz, gzip, python3, mksquashfs (squashfs-tools), nix-bin (agent), npm or curl. agent-arm64 needs none of the host's
# binaries (busybox, bash, git, setpriv come from the arm64 packages).
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
    agent|scripted|agent-arm64) ;;
    *) die "unknown variant '$variants' (agent, scripted, agent-arm64 or all)" ;;
esac

for tool in apt-cache apt-get dpkg-deb dpkg-query cpio gzip xz git python3 flock; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (Debian: scripts/install-deps.sh)"
done
case "$variants" in
    *agent-arm64*) ;;
    *)
        busybox=$(command -v busybox || true)
        [ -n "$busybox" ] && file_is_static=$(ldd "$busybox" 2>&1 || true)
        case "${file_is_static:-}" in
            *"not a dynamic"*|*"statically linked"*) ;;
            *) die "need a static busybox (Debian: apt-get install busybox-static)" ;;
        esac
        # The kernel package linux-image-amd64 currently depends on; never hard-coded.
        kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
        [ -n "$kpkg" ] || die "cannot resolve the kernel package behind linux-image-amd64 (run apt-get update?)"
        ;;
esac

pin_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d:=d[k] for k in sys.argv[2:]]; print(d)' "$pin" "$@"; }

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
    load_modules
    kernel_ready=1
}

load_modules() { # $wanted from $moddir, in dependency order, into $work/modorder
    (cd "$moddir" && find kernel -name '*.ko*') | awk '{f=$0; sub(".*/","",f); sub("\\.ko.*$","",f); gsub("-","_",f); print f, $0}' > "$work/modindex"
    : > "$work/modorder"
    for m in $wanted; do add_module "$m"; done
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
        fill_nix "$tree"
        fetch_claude "$tree"
    fi
}

# Debian's Nix (nix-bin): the one binary (its other names are links to it) and its libraries.
fill_nix() { # tree
    tree=$1
    nix=$(command -v nix) || die "missing host binary: nix (Debian: apt-get install nix-bin, or scripts/install-deps.sh)"
    copy_with_libs "$tree" "$nix"
    # glibc's name-service modules, which Nix loads before it resolves a host (it warns without them)
    for lib in $(ldconfig -p | awk '/libnss_(dns|files)\.so\.2 .*x86-64/ {print $NF}'); do copy_with_libs "$tree" "$lib"; done
    for b in $(package_binaries nix-bin); do
        [ -L "$b" ] && ln -sf nix "$tree$(usr_path "$b")"
    done
    mkdir -p "$tree/usr/libexec/nix"
    ln -sf ../../bin/nix "$tree/usr/libexec/nix/build-remote"
}

# Claude Code's native binary from the pinned npm platform package, checked against the pin.
fetch_claude() { # tree [platform]
    tree=$1 platform=${2:-linux-x64}
    pkg=$(pin_field platforms "$platform" package)
    version=$(pin_field version)
    integrity=$(pin_field platforms "$platform" integrity)
    binary=$(pin_field platforms "$platform" binary)
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
    # its libraries (glibc's libc, libm, libdl, libpthread, librt), as ldd resolves them here; the
    # arm64 store has them from libc6:arm64 already (ldd cannot read a foreign binary)
    [ "$platform" = linux-x64 ] && copy_libs_of "$tree" "$tree/usr/lib/claude-code/claude"
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
    if [ "$arch" = x86_64 ]; then
        for applet in $("$busybox" --list); do
            [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
        done
    else
        # a foreign busybox cannot list its applets here: init links them at boot (--install)
        ln -s busybox "$root/bin/sh"
    fi
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
    case "$2" in agent|agent-arm64)
        echo mvo_store > "$root/etc/mvo/store-serial"
        # Nix, single-user and the agent's: the runner binds /nix to this repository's cache disk
        mkdir -p "$root/etc/nix"
        : > "$root/etc/mvo/nix-single-user"
        cat > "$root/etc/nix/nix.conf" <<'NIXCONF'
# The Debian guests' Nix is single-user: the agent user owns /nix, which the task runner binds to
# the repository's cache disk on this slot (nixos-vm/runner/mvo-runner.sh, nix develop). Builds run
# as the agent, unsandboxed: the VM is the sandbox.
experimental-features = nix-command flakes
build-users-group =
sandbox = false
# a guest whose network has no route out (or no DNS) gives up on a download instead of waiting
connect-timeout = 10
NIXCONF
        # the flake registry the runner names when the guest has no network (none, api-only)
        echo '{"flakes":[],"version":2}' > "$root/etc/nix/offline-registry.json" ;;
    esac
    # busybox udhcpc's hook: apply the lease (vfkit NAT guests, mvo.net=dhcp on the command line)
    cat > "$root/etc/mvo/udhcpc.script" <<'DHCP'
#!/bin/sh
case "$1" in
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        for r in $router; do ip route add default via "$r" dev "$interface"; break; done
        : > /etc/resolv.conf
        for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
        echo "mvo-init: eth0 $ip/${mask:-24} by DHCP, gateway $router" > /dev/console ;;
esac
DHCP
    chmod 755 "$root/etc/mvo/udhcpc.script"
    cat > "$root/init" <<'INIT'
#!/bin/sh
# The init of the Debian guests: devices, the store disk, the network; then the shared runner.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
# The arm64 image is built on another architecture, which cannot run its busybox to list applets.
[ -e /bin/mount ] || /bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# pseudo-terminals: Nix gives each build one, and tools that want a terminal find one
mkdir -p /dev/pts && mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts
# /dev/fd and the standard streams: bash's process substitution (Nix's devShell script) needs them
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
while read -r m; do insmod "/modules/$m" 2>/dev/null; done < /etc/mvo-modules
# hvc0 (virtio_console, the arm64 image's console under vfkit) is a module: it exists only now,
# so the kernel gave init no console, or another one (QEMU virt's ttyAMA0). Open it.
if grep -q 'console=hvc' /proc/cmdline && (: < /dev/console) 2>/dev/null; then exec < /dev/console > /dev/console 2>&1; fi
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
# The slot disk is /var: mounted now, before anything in the guest writes there.
/mvo/mvo-runner.sh mount-slot
hostname mvo-guest
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    if grep -q 'mvo.net=dhcp' /proc/cmdline; then
        # vfkit's NAT (macOS vmnet): the address, the gateway (the host) and DNS come by DHCP
        udhcpc -i eth0 -f -q -n -t 10 -T 1 -s /etc/mvo/udhcpc.script >/dev/null 2>&1 \
            || echo "mvo-init: no DHCP lease on eth0; the guest has no network" >&2
    else
        # QEMU user-mode networking: fixed addresses, no DHCP round trip needed.
        ip addr add 10.0.2.15/24 dev eth0
        ip route add default via 10.0.2.2
        echo "nameserver 10.0.2.3" > /etc/resolv.conf
    fi
fi
# The power button (QMP system_powerdown, vfkit Stop) asks the runner to finish: it ends the agent
# and still hands back its commits. The host forces the VM off after its stop grace (10 s by
# default); the guest's own forced poweroff only catches a runner that never ends, so it waits
# longer than that. A guest booted with mvo.test.ignore_shutdown=1 ignores the button, so tests can
# prove the host's forced stop.
if ! grep -q 'mvo.test.ignore_shutdown=1' /proc/cmdline; then
    for ev in /sys/class/input/event*; do
        [ -e "$ev/device/name" ] || continue
        case "$(cat "$ev/device/name")" in
            *"Power Button"*|gpio-keys)
                (head -c 1 "/dev/input/${ev##*/}" >/dev/null && echo "mvo-init: power button" && kill -TERM -1; sleep 60; sync; poweroff -f) &
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

# --- arm64: Debian's arm64 packages through a private apt state --------------------------------
# apt runs with its own lists, caches and (empty) dpkg status under $arm_dir/apt, and with the host's
# sources and keyrings (its apt configuration as it is). Nothing of the host's apt or dpkg state
# changes: no dpkg --add-architecture, no host lists. Package names and dependencies come from these
# private lists; no version is written here.
arm_dir="$downloads/arm64"
arm_apt() { # apt-get|apt-cache args…
    tool=$1; shift
    "$tool" -o Dir::State="$arm_dir/apt/state" -o Dir::State::status="$arm_dir/apt/state/status" \
        -o Dir::Cache="$arm_dir/apt/cache" -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
        -o APT::Sandbox::User="$(id -un)" "$@"
}
arm_updated=0
arm_update() {
    [ "$arm_updated" = 1 ] && return 0
    mkdir -p "$arm_dir/apt/state/lists/partial" "$arm_dir/apt/cache/archives/partial" "$arm_dir/debs"
    : > "$arm_dir/apt/state/status"
    echo "build-guest: apt-get update (arm64, private state in $arm_dir/apt)" >&2
    arm_apt apt-get update -qq >&2 || die "apt-get update for arm64 failed (private state in $arm_dir/apt)"
    arm_updated=1
}
arm_kernel_package() { # the package linux-image-arm64 depends on, from the private lists
    arm_apt apt-cache depends linux-image-arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}
arm_resolve_kernel() {
    [ -d "$arm_dir/apt/state/lists" ] || arm_update
    arm_kpkg=$(arm_kernel_package)
    if [ -z "$arm_kpkg" ]; then arm_update; arm_kpkg=$(arm_kernel_package); fi
    [ -n "$arm_kpkg" ] || die "cannot resolve the kernel package behind linux-image-arm64 (private lists in $arm_dir/apt)"
}

# The given packages plus the libraries they need: the packages of Debian's section "libs" reached
# through Depends and Pre-Depends edges (first alternative of each group; virtual packages skipped).
# Other dependencies (perl, debconf, dpkg…) are not followed: only binaries and libraries are taken.
arm_closure() {
    seen=" " todo="$*"
    while [ -n "$todo" ]; do
        new=
        for p in $todo; do
            case "$seen" in *" $p "*) ;; *) seen="$seen$p " new="$new $p" ;; esac
        done
        [ -n "$new" ] || break
        # shellcheck disable=SC2086
        deps=$(arm_apt apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                   --no-replaces --no-enhances $new 2>/dev/null | awk '
            /^[^ ]/ { group = 0; next }
            /^ \|(Pre)?Depends:/ { if (!group) print $2; group = 1; next }
            /^  (Pre)?Depends:/ { if (!group) print $2; group = 0; next }' \
            | sed 's/:any$//' | grep -v '^<' | sort -u)
        todo=
        # shellcheck disable=SC2086
        [ -z "$deps" ] || todo=$(arm_apt apt-cache show --no-all-versions $deps 2>/dev/null \
            | awk '/^Package:/ {p = $2} /^Section:/ && ($2 == "libs" || $2 ~ /\/libs$/) {print p}' | sort -u)
    done
    echo $seen
}

arm_versions() { # packages…: their candidate versions, remembered in $work/arm64-versions
    # shellcheck disable=SC2086
    arm_apt apt-cache show --no-all-versions "$@" 2>/dev/null \
        | awk '/^Package:/ {p = $2} /^Version:/ {print p, $2}' >> "$work/arm64-versions"
}
arm_deb() { # package → its downloaded .deb (the candidate version of the private lists)
    ver=$(awk -v p="$1" '$1 == p {print $2; exit}' "$work/arm64-versions" 2>/dev/null)
    [ -n "$ver" ] || { arm_versions "$1"; ver=$(awk -v p="$1" '$1 == p {print $2; exit}' "$work/arm64-versions"); }
    [ -n "$ver" ] || return 1
    ls "$arm_dir/debs/$1_$(echo "$ver" | sed 's/:/%3a/')"_*.deb 2>/dev/null | head -n1
}

arm_download() { # packages…: into $arm_dir/debs unless already there; one update and retry on failure
    arm_versions "$@"
    need=
    for p in "$@"; do [ -n "$(arm_deb "$p")" ] || need="$need $p"; done
    [ -n "$need" ] || return 0
    # shellcheck disable=SC2086
    (cd "$arm_dir/debs" && arm_apt apt-get download -q $need >&2) && return 0
    arm_update
    # shellcheck disable=SC2086
    (cd "$arm_dir/debs" && arm_apt apt-get download -q $need >&2) || die "apt-get download (arm64) failed:$need"
}

arm_extract() { # package → directory holding its files
    x="$work/arm64-debs/$1"
    if [ ! -d "$x" ]; then
        deb=$(arm_deb "$1") && [ -n "$deb" ] || die "no downloaded arm64 package $1"
        mkdir -p "$x" && dpkg-deb -x "$deb" "$x"
    fi
    echo "$x"
}

prepare_kernel_arm64() {
    [ "$kernel_ready" = 1 ] && return 0
    arm_download "$kpkg" busybox-static
    x=$(arm_extract "$kpkg")
    vmlinuz=$(ls "$x"/boot/vmlinuz-* | head -n1)
    kver=${vmlinuz##*/vmlinuz-}
    moddir="$x/lib/modules/$kver"
    # vfkit boots only an uncompressed arm64 Image. Debian's arm64 vmlinuz is one today; a gzip-
    # compressed one (what `make Image.gz` gives) is unpacked. Either way the Image magic is checked.
    if [ "$(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
        gzip -dc "$vmlinuz" > "$work/Image" || die "cannot decompress $vmlinuz"
    else
        cp "$vmlinuz" "$work/Image"
    fi
    [ "$(dd if="$work/Image" bs=1 skip=56 count=4 2>/dev/null)" = ARMd ] || die "$vmlinuz is not an arm64 Image"
    busybox="$(arm_extract busybox-static)/bin/busybox"
    [ -f "$busybox" ] || die "busybox-static (arm64) has no bin/busybox"
    # virtio_console: vfkit's console (hvc0); virtio_rng: its entropy device; virtiofs: its shares;
    # the vsock transport: the runner's api-only relay (socat, VSOCK-CONNECT to the host, CID 2). 9p serves QEMU (scripts/boot-arm64-guest.sh);
    # gpio_keys: the power key of QEMU's arm virt machine (system_powerdown).
    wanted="virtio_mmio virtio_pci virtio_console virtio_rng virtio_blk virtio_net 9p 9pnet_virtio virtiofs vmw_vsock_virtio_transport crc32c_generic ext4 squashfs evdev gpio_keys"
    load_modules
    kernel_ready=1
}

arm_fill_usr() { # tree: the same set as the x86_64 store (bash, git, setpriv, coreutils & co.), arm64,
    # and socat: the runner's api-only relay from the guest's loopback to vsock (vfkit has no NIC then)
    tree=$1
    bins="bash git util-linux coreutils grep sed findutils diffutils gzip tar socat nix-bin"
    pkgs=$(arm_closure $bins)
    # shellcheck disable=SC2086
    arm_download $pkgs
    mkdir -p "$tree/usr/bin" "$tree/usr/sbin" "$tree/usr/lib"
    for p in $pkgs; do
        x=$(arm_extract "$p")
        case "$p" in
            git) cp -a "$x/usr/bin/git" "$tree/usr/bin/" ;;          # as on x86_64: git itself
            socat) cp -a "$x/usr/bin/socat" "$tree/usr/bin/" ;;
            nix-bin)                                                   # Nix: its binary, links and libraries
                cp -a "$x/usr/bin/." "$tree/usr/bin/"
                cp -a "$x/usr/lib/nix" "$tree/usr/lib/"
                mkdir -p "$tree/usr/libexec" && cp -a "$x/usr/libexec/nix" "$tree/usr/libexec/" ;;
            util-linux) cp -a "$x/usr/bin/setpriv" "$tree/usr/bin/" ;; # only setpriv: busybox keeps mount & co.
            bash|coreutils|grep|sed|findutils|diffutils|gzip|tar)
                for d in bin usr/bin sbin usr/sbin; do
                    [ -d "$x/$d" ] || continue
                    case "$d" in *sbin) to=usr/sbin ;; *) to=usr/bin ;; esac
                    cp -a "$x/$d/." "$tree/$to/"
                done ;;
            *)
                # a library: merged /usr: /lib's files go to /usr/lib (the initrd links /lib there)
                for d in lib usr/lib; do [ -d "$x/$d" ] && cp -a "$x/$d/." "$tree/usr/lib/"; done ;;
        esac
    done
    # what the x86_64 store has not either: charset converters, locale data, docs
    rm -rf "$tree"/usr/lib/*-linux-gnu/gconv "$tree"/usr/lib/locale "$tree/usr/share"
    fetch_claude "$tree" linux-arm64
}

# --- the manifest ---------------------------------------------------------------------------
write_manifest() { # dir variant version
    case "$2" in
        agent-arm64) set -- "$@" aarch64 Image hvc0 linux-arm64 ;;
        *) set -- "$@" x86_64 vmlinux ttyS0 linux-x64 ;;
    esac
    python3 - "$1/mvo-image.json" "$2" "$3" "$base_cmdline" "$pin" "$agent_name" "$agent_uid" "$4" "$5" "$6" "$7" <<'PY'
import json, sys
path, variant, version, cmdline, pin, user, uid, arch, kernel, console, platform = sys.argv[1:12]
m = {
    "manifest_version": 1,
    "image_version": version,
    "architecture": arch,
    "kernel": kernel,
    "initrd": "initrd.cpio.gz",
    "cmdline": cmdline,
    "console": console,
    "disks": [],
    "agent_user": {"name": user, "uid": int(uid), "gid": int(uid), "home": "/home/" + user},
    "agents": [],
}
if variant in ("agent", "agent-arm64"):
    m["features"] = ["nix"]
    p = json.load(open(pin))
    m["disks"].append({"file": "store.img", "serial": "mvo_store", "read_only": True})
    m["agents"].append({"name": p["name"], "command": p["command"], "version": p["version"],
                        "package": p["platforms"][platform]["package"],
                        "integrity": p["platforms"][platform]["integrity"]})
with open(path + ".part", "w") as f:
    json.dump(m, f, indent=2)
    f.write("\n")
import os
os.replace(path + ".part", path)
PY
}

build_variant() { # variant
    variant=$1
    case "$variant" in
        agent-arm64) arch=aarch64 kernel_file=Image; arm_resolve_kernel; kpkg=$arm_kpkg
                     out="$images/debian-agent-$arch" ;;
        *) arch=x86_64 kernel_file=vmlinux out="$images/debian-$variant-$arch" ;;
    esac
    [ "$variant" = agent ] && [ -n "${MVO_GUEST_DIR:-}" ] && out=$MVO_GUEST_DIR
    stamp="$kpkg $(cat "$runner" "$0" "$pin" "$repo_root/nixos-vm/runner/kernel-cmdline" | sha256sum | cut -c1-16)"
    # One build of an image directory at a time (a demo and the tests may ask at once): the second
    # waits, then finds the image built.
    mkdir -p "$(dirname "$out")"
    exec 9>"$out.lock"
    if ! flock -n 9; then
        echo "build-guest: waiting for another build of $out" >&2
        flock 9 || die "cannot lock $out.lock"
    fi
    if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/mvo-image.json" ]; then
        exec 9>&-
        echo "$out"
        return 0
    fi
    if [ "$arch" = aarch64 ]; then prepare_kernel_arm64; else prepare_kernel; fi
    echo "build-guest: building the $variant image in $out" >&2
    root="$work/root-$variant"
    make_initrd_tree "$root" "$variant"
    mkdir -p "$out"
    rm -f "$out/mvo-image.json" "$out/stamp"
    if [ "$variant" != scripted ]; then
        command -v mksquashfs >/dev/null 2>&1 || die "missing tool: mksquashfs (Debian: apt-get install squashfs-tools)"
        store="$work/store-$variant"
        mkdir -p "$store"
        if [ "$arch" = aarch64 ]; then arm_fill_usr "$store"; else fill_usr "$store" agent; fi
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
    if [ "$arch" = aarch64 ]; then kernel_src="$work/Image"; else kernel_src="$work/vmlinux"; fi
    cp "$kernel_src" "$out/$kernel_file.part" && mv "$out/$kernel_file.part" "$out/$kernel_file"
    write_manifest "$out" "$variant" "debian-12-${variant%-arm64}-$arch-$(echo "$stamp" | tr ' ' '-')"
    echo "$kpkg" > "$out/kernel.version"
    echo "$stamp" > "$out/stamp"
    exec 9>&-
    echo "$out"
}

for v in $variants; do build_variant "$v"; done
