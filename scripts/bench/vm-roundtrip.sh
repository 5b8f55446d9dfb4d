#!/bin/sh
# Raw QEMU boot + task run of the scripted-agent guest by hand (its agent runs as root there, through
# the image's test knob, since a bare QEMU command cannot stamp the workspace for the agent user) vs. the same through the QEMU driver vs. a
# whole task through the orchestrator (slot, workspace preparation, boot, agent, bundle import,
# merge into a real repository). Each run: start → boot → mount shares → scripted agent commits →
# bundle → power-off → exit.
# Usage: scripts/bench/vm-roundtrip.sh [runs]   (default 3; needs qemu-system-x86, a JDK, mvn)
set -eu
runs=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
guest=$("$root/scripts/build-guest.sh" scripted | tail -n1)
accel=${MVO_QEMU_ACCEL:-tcg}
java_home=$("$root/scripts/find-java.sh")
work=$(mktemp -d "${TMPDIR:-/tmp}/mvo-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }
tsc=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
tsc_arg=""; [ "$accel" = tcg ] && [ -n "$tsc" ] && tsc_arg=" tsc_early_khz=$tsc"

new_task() { # dir → a git workspace and an io dir with task.env
    mkdir -p "$1/workspace" "$1/io"
    git -C "$1/workspace" init -q -b main
    echo hello > "$1/workspace/README.md"
    git -C "$1/workspace" add README.md
    git -C "$1/workspace" -c user.name=b -c user.email=b@example.invalid commit -qm base
    base=$(git -C "$1/workspace" rev-parse HEAD)
    printf "MVO_TASK_ID='bench'\nMVO_BASE_COMMIT='%s'\nMVO_AGENT_CMD='echo x > x.txt && git add x.txt && git commit -qm bench'\n" "$base" > "$1/io/task.env"
}

raw_total=0
i=1
while [ "$i" -le "$runs" ]; do
    t="$work/raw$i"; new_task "$t"
    start=$(now_ms)
    qemu-system-x86_64 -machine microvm -accel "$accel" -m 512 -smp 1 -nodefaults -no-user-config \
        -display none -monitor none -no-reboot -serial "file:$t/console.log" \
        -kernel "$guest/vmlinux" -initrd "$guest/initrd.cpio.gz" -cpu max -append "console=ttyS0 panic=-1 quiet mvo.test.agent_as_root=1$tsc_arg" \
        -fsdev "local,id=fs0,path=$t/workspace,security_model=none" -device virtio-9p-device,fsdev=fs0,mount_tag=mvo_ws \
        -fsdev "local,id=fs1,path=$t/io,security_model=none" -device virtio-9p-device,fsdev=fs1,mount_tag=mvo_io
    ms=$(( $(now_ms) - start ))
    [ -f "$t/io/out/result.bundle" ] || { echo "raw run $i produced no bundle" >&2; exit 1; }
    echo "raw    run $i: $ms ms"
    raw_total=$((raw_total + ms)); i=$((i + 1))
done

cd "$root"
[ -d target/test-classes ] || JAVA_HOME=$java_home mvn -B -q -o test-compile
[ -f target/runtime-classpath.txt ] || JAVA_HOME=$java_home mvn -B -q -o generate-resources
cp="target/test-classes:target/classes:$(cat target/runtime-classpath.txt)"
driver_out=$("$java_home/bin/java" -cp "$cp" dev.microvm.orchestrator.vm.qemu.VmRoundTripBench "$work/drv" "$guest" "$accel" "$runs" 2>"$work/bench.err") || {
    cat "$work/bench.err" >&2; exit 1; }
echo "$driver_out" | grep "^driver run"
driver_total=$(echo "$driver_out" | awk '/^driver run/ {s += $4} END {print s}')
task_out=$("$java_home/bin/java" -cp "$cp" dev.microvm.orchestrator.node.TaskRoundTripBench "$work/task" "$guest" "$accel" "$runs" 2>"$work/task.err") || {
    cat "$work/task.err" >&2; exit 1; }
echo "$task_out" | grep "^task run"
task_total=$(echo "$task_out" | awk '/^task run/ {s += $4} END {print s}')
echo "mean raw:    $((raw_total / runs)) ms"
echo "mean driver: $((driver_total / runs)) ms  (accelerator $accel)"
echo "mean task:   $((task_total / runs)) ms  (whole round trip, merge included)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

