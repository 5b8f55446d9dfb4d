#!/bin/sh
# Proves the arm64 agent guest (scripts/build-guest.sh agent-arm64) boots and runs a task: one boot
# under qemu-system-aarch64 -M virt -cpu max -accel tcg (emulated on any host), with the kernel,
# initrd, command line, console and store disk its manifest names, and the devices the guest meets
# under vfkit on a Mac, as PCI virtio devices: a virtio console (hvc0), virtio-blk disks found by
# serial (store, slot), virtio-rng, and the workspace and io shares: 9p (mapped-xattr, as QemuArgv
# gives them), or with --virtiofs virtio-fs as vfkit gives it (vhost-user-fs through the virtiofsd
# Debian's QEMU ships; the runner mounts it when no 9p share has the tag). No network device
# (policy none).
#
#   scripts/boot-arm64-guest.sh [--no-claude] [--virtiofs] [--powerdown] [IMAGE_DIR]
#
# The task's scripted agent writes a file and commits it; then, unless --no-claude, it runs the
# image's Claude Code (`claude --version`) as the agent user. The script checks the runner's result
# (exit code, the commit in out/result.bundle, fetched into a host repository) and prints figures:
# guest uptime and wall time to init and to the runner, claude --version's time, the whole run.
# --powerdown instead gives the agent a long sleep and presses the virt machine's power key (QMP
# system_powerdown) once the agent runs: the guest must end the agent and power off by itself.
# IMAGE_DIR defaults to $MVO_IMAGES_DIR/debian-agent-aarch64. Needs qemu-system-aarch64 (Debian:
# qemu-system-arm), git, python3; --virtiofs needs root. Exit 0 when everything checked out. MVO_KEEP=1 keeps the run's
# directory (console.log, io/).
set -eu

claude=1 share=9p powerdown=0
while :; do
    case "${1:-}" in
        --no-claude) claude=0; shift ;;
        --powerdown) powerdown=1 claude=0; shift ;;
        --virtiofs) share=virtiofs; shift ;;
        *) break ;;
    esac
done
images=${MVO_IMAGES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm-orchestrator/images}
image=${1:-$images/debian-agent-aarch64}
die() { echo "boot-arm64-guest: $*" >&2; exit 1; }

command -v qemu-system-aarch64 >/dev/null 2>&1 || die "missing qemu-system-aarch64 (Debian: apt-get install qemu-system-arm)"
[ -f "$image/mvo-image.json" ] || die "no image in $image (scripts/build-guest.sh agent-arm64)"

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d:=d[k] for k in sys.argv[2:]]; print(d)' "$image/mvo-image.json" "$@"; }
[ "$(field architecture)" = aarch64 ] || die "$image is not an aarch64 image"
kernel="$image/$(field kernel)"
initrd="$image/$(field initrd)"
# As GuestImage.boot builds it: console=<console> <cmdline>. For the figures only: earlycon prints
# the kernel's messages on the virt machine's PL011 (serial.log) until hvc0, a module, takes over,
# and loglevel=7 lets its "Run /init" line (with the uptime stamp) through the image's quiet.
cmdline="console=$(field console) $(field cmdline) earlycon loglevel=7"
uid=$(field agent_user uid)

run=$(mktemp -d "${TMPDIR:-/tmp}/mvo-arm64.XXXXXX")
daemons=
cleanup() {
    for p in $daemons; do kill "$p" 2>/dev/null || true; done
    [ "${MVO_KEEP:-0}" = 1 ] || rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/io" "$run/src"

# The user's repository and the task's workspace (a clone the agent can write: owned by the agent's
# uid when run as root, as the real drivers' ownership stamping arranges; else open to everyone).
git -C "$run/src" init -q -b main
git -C "$run/src" -c user.name=t -c user.email=t@t commit -q --allow-empty -m base
base=$(git -C "$run/src" rev-parse HEAD)
git clone -q "$run/src" "$run/ws"
if [ "$(id -u)" = 0 ]; then chown -R "$uid:$uid" "$run/ws"; else chmod -R a+rwX "$run/ws"; fi

agent='echo "hi from $(uname -m)" > file && git add -A && git commit -q -m "arm64 guest" && echo "agent: committed as $(id -un) (uid $(id -u)), uptime $(cut -d" " -f1 /proc/uptime)"'
[ "$powerdown" = 0 ] || agent="$agent && sleep 600"
if [ "$claude" = 1 ]; then
    agent="$agent"' && bash -c '\''TIMEFORMAT="agent: claude --version took %R s"; time claude --version'\'
fi
cat > "$run/io/task.env" <<EOF
MVO_TASK_ID='arm64-boot'
MVO_BASE_COMMIT='$base'
MVO_AGENT_CMD='$(printf %s "$agent" | sed "s/'/'\\\\''/g")'
MVO_IMAGE_VERSION='$(field image_version)'
DISABLE_AUTOUPDATER='1'
DISABLE_TELEMETRY='1'
EOF
echo "boot the arm64 guest" > "$run/io/prompt.txt"
truncate -s 256M "$run/slot.raw"

machine=virt
[ "$share" = virtiofs ] && machine=virt,memory-backend=mem
set -- -M "$machine" -cpu max -accel tcg -m 2048 -smp 2 \
    -nodefaults -no-user-config -display none -monitor none -no-reboot -serial "file:$run/serial.log" \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -device virtio-serial-pci -chardev "file,id=con0,path=$run/console.log" -device virtconsole,chardev=con0 \
    -device virtio-rng-pci -qmp "unix:$run/qmp.sock,server=on,wait=off"
if [ "$share" = virtiofs ]; then
    [ "$(id -u)" = 0 ] || die "--virtiofs needs root (virtiofsd)"
    virtiofsd=/usr/lib/qemu/virtiofsd
    [ -x "$virtiofsd" ] || die "missing $virtiofsd (Debian: qemu-system-common)"
    # vhost-user devices need the guest's memory shared with virtiofsd
    set -- "$@" -object memory-backend-memfd,id=mem,size=2048M,share=on
    for t in ws:mvo_ws io:mvo_io; do
        "$virtiofsd" --socket-path="$run/${t%%:*}.sock" -o source="$run/${t%%:*}" -o cache=none -o sandbox=chroot \
            2>>"$run/virtiofsd.log" &
        daemons="$daemons $!"
        set -- "$@" -chardev "socket,id=${t%%:*},path=$run/${t%%:*}.sock" -device "vhost-user-fs-pci,chardev=${t%%:*},tag=${t#*:}"
    done
    for t in ws io; do
        n=0
        while [ ! -S "$run/$t.sock" ]; do
            n=$((n + 1)); [ "$n" -lt 100 ] || die "virtiofsd did not start: $(cat "$run/virtiofsd.log")"
            sleep 0.1
        done
    done
else
    set -- "$@" \
        -fsdev "local,id=fs0,path=$run/ws,security_model=mapped-xattr" -device virtio-9p-pci,fsdev=fs0,mount_tag=mvo_ws \
        -fsdev "local,id=fs1,path=$run/io,security_model=mapped-xattr" -device virtio-9p-pci,fsdev=fs1,mount_tag=mvo_io
fi
i=0
for d in $(python3 -c 'import json,sys; print(" ".join(d["file"] + ":" + d["serial"] for d in json.load(open(sys.argv[1]))["disks"]))' "$image/mvo-image.json"); do
    set -- "$@" -drive "file=$image/${d%%:*},if=none,format=raw,id=d$i,readonly=on" -device "virtio-blk-pci,drive=d$i,serial=${d#*:}"
    i=$((i + 1))
done
set -- "$@" -drive "file=$run/slot.raw,if=none,format=raw,id=slot" -device virtio-blk-pci,drive=slot,serial=mvo_slot

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
start=$(now)
timeout "${MVO_BOOT_TIMEOUT:-900}" qemu-system-aarch64 "$@" &
qemu=$!
t_init= t_runner= t_press=
while kill -0 "$qemu" 2>/dev/null; do
    if [ -z "$t_init" ] && grep -q 'Run /init as init process' "$run/serial.log" 2>/dev/null; then t_init=$(now); fi
    if [ -z "$t_runner" ] && grep -q 'mvo-runner: task runner started' "$run/console.log" 2>/dev/null; then t_runner=$(now); fi
    if [ "$powerdown" = 1 ] && [ -z "$t_press" ] && grep -q '^agent: committed' "$run/console.log" 2>/dev/null; then
        python3 - "$run/qmp.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", "system_powerdown"):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush(); f.readline()
PY
        t_press=$(now)
    fi
    sleep 0.1
done
rc=0; wait "$qemu" || rc=$?
end=$(now)
[ "$rc" = 0 ] || { tail -n 30 "$run/console.log" >&2; die "qemu-system-aarch64 exited with $rc"; }

echo "--- console (runner and agent lines)"
grep -aE 'mvo-runner|^agent:|^[0-9]+\.[0-9]+\.[0-9]+ \(Claude Code\)' "$run/console.log" || true
echo "--- checks"
if [ "$powerdown" = 1 ]; then
    grep -aq 'mvo-init: power button' "$run/console.log" || die "the guest did not see the power key"
    # init powers off 2 s after passing the key on: the runner may not have written out/done by then
    echo "power key pressed; the guest ended the agent (exit $(cat "$run/io/out/exit_code" 2>/dev/null || echo ?)) and powered off by itself $(elapsed "$t_press" "$end") s later; out/done $( [ -f "$run/io/out/done" ] && echo written || echo 'not written (2 s grace)')"
    echo "arm64 guest: ok"
    exit 0
fi
[ -f "$run/io/out/done" ] || die "the runner did not finish (no io/out/done)"
if [ "$(cat "$run/io/out/exit_code")" != 0 ]; then
    cat "$run/io/out/agent.log" >&2
    die "agent exit code $(cat "$run/io/out/exit_code")"
fi
[ -f "$run/io/out/result.bundle" ] || die "no result.bundle"
git -C "$run/src" fetch -q "$run/io/out/result.bundle" HEAD
echo "commit from the guest: $(git -C "$run/src" log -1 --format='%h %s' FETCH_HEAD), file: $(git -C "$run/src" show FETCH_HEAD:file)"
echo "--- figures ($share shares, TCG, -smp 2, -m 2048; host: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
uptime_init=$(grep -a 'Run /init as init process' "$run/serial.log" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' | head -n1)
echo "guest uptime at init: ${uptime_init:-?} s; wall time to init (seen on the console): $( [ -n "$t_init" ] && elapsed "$start" "$t_init" || echo ?) s"
echo "wall time to the runner: $( [ -n "$t_runner" ] && elapsed "$start" "$t_runner" || echo ?) s"
grep -a '^agent: claude --version took' "$run/console.log" | sed 's/^agent: //' || true
echo "whole run (qemu start to exit): $(elapsed "$start" "$end") s"
[ "${MVO_KEEP:-0}" = 1 ] && echo "kept: $run"
echo "arm64 guest: ok"
