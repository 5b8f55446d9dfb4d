#!/bin/sh
# Two ratios, measured in one run on this machine:
#   1. a real Claude Code task in a microVM under TCG (the whole task: workspace, boot, Claude Code
#      turn with a Bash tool call and a commit, bundle, merge) against the same Claude Code turn run
#      directly on the host, both against the same scripted Messages API (scripts/scripted-messages-api.py);
#   2. boot → runner-ready time of the agent image (small initrd + read-only store disk with Claude
#      Code) against the previous layout, everything in one initrd (the scripted-agent image).
# Usage: scripts/bench/real-agent.sh [runs]   (default 3; needs what scripts/install-deps.sh installs)
set -eu
runs=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
java_home=$("$root/scripts/find-java.sh")
agent_image=$("$root/scripts/build-guest.sh" agent | tail -n1)
old_image=$("$root/scripts/build-guest.sh" scripted | tail -n1)
work=$(mktemp -d "${TMPDIR:-/tmp}/mvo-bench-agent.XXXXXX")
api_pid=
cleanup() { [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
cd "$root"
[ -f target/microvm-orchestrator.jar ] || scripts/mvn -B -q package -DskipTests
[ -d target/test-classes ] || scripts/mvn -B -q test-compile

now_ms() { date +%s%3N; }
mean() { awk '{s += $1; n++} END {printf "%d", s / n}'; }

# The host's Claude Code: the binary the agent image carries, from the same pinned package.
tarball=$(ls "${MVO_IMAGES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm-orchestrator/images}"/downloads/*claude-code-linux-x64-*.tgz | head -n1)
mkdir -p "$work/claude" && tar -xzf "$tarball" -C "$work/claude" package/claude
claude="$work/claude/package/claude"

python3 scripts/scripted-messages-api.py --port-file "$work/api.port" --log "$work/api.log" 2>/dev/null &
api_pid=$!
i=0; while [ ! -s "$work/api.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
api="http://127.0.0.1:$(cat "$work/api.port")"

new_repo() { # dir
    git init -q -b main "$1"
    printf 'def add(a, b):\n    return a - b\n' > "$1/calc.py"
    git -C "$1" add calc.py
    git -C "$1" -c user.name=b -c user.email=b@example.invalid commit -qm base
}
prompt="calc.py's add() subtracts instead of adding. Fix it, add a test in test_calc.py, and commit both with git."

: > "$work/host.ms"
i=1
while [ "$i" -le "$runs" ]; do
    new_repo "$work/host$i"; mkdir -p "$work/home$i"
    start=$(now_ms)
    (cd "$work/host$i" && env -i PATH=/usr/bin:/bin HOME="$work/home$i" ANTHROPIC_BASE_URL="$api" ANTHROPIC_API_KEY=bench \
        DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
        GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.invalid GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.invalid \
        "$claude" -p "$prompt" --output-format stream-json --verbose --allowedTools Bash > "$work/host$i.out" 2>&1)
    ms=$(( $(now_ms) - start ))
    git -C "$work/host$i" log -1 --format=%s | grep -q "Fix add" || { echo "host run $i made no commit" >&2; exit 1; }
    echo "host Claude Code turn, run $i: $ms ms"
    echo "$ms" >> "$work/host.ms"; i=$((i + 1))
done

state="$work/state"; mkdir -p "$state"
printf '{"driver":"qemu","accelerator":"tcg","vm_cpus":2,"vm_memory_mib":2048,"slot_disk_gib":1,"http_port":0,"guest_dir":"%s","api_upstream":"%s"}\n' \
    "$agent_image" "$api" > "$state/config.json"
: > "$work/vm.ms"
i=1
while [ "$i" -le "$runs" ]; do
    new_repo "$work/vm$i"
    scripts/microvm-orchestrator allow --state-dir "$state" "$work/vm$i" --alias "bench$i" >/dev/null 2>&1
    start=$(now_ms)
    ANTHROPIC_API_KEY=bench scripts/microvm-orchestrator run --state-dir "$state" --repo "bench$i" "$prompt" > "$work/vm$i.out" 2>&1
    ms=$(( $(now_ms) - start ))
    grep -q '"status" : "completed"' "$work/vm$i.out" || { echo "VM run $i did not complete:" >&2; tail -20 "$work/vm$i.out" >&2; exit 1; }
    git -C "$work/vm$i" log -1 --format=%s | grep -q "Fix add" || { echo "VM run $i merged no commit" >&2; exit 1; }
    echo "microVM task (TCG), run $i: $ms ms"
    echo "$ms" >> "$work/vm.ms"; i=$((i + 1))
done

cp="target/test-classes:target/classes:$(cat target/runtime-classpath.txt)"
boot() { # image → mean ms from start to runner-ready
    "$java_home/bin/java" -cp "$cp" dev.microvm.orchestrator.vm.qemu.VmRoundTripBench "$work/boot-$(basename "$1")" "$1" tcg "$runs" 2>/dev/null \
        | sed -n 's/.*(ready after \([0-9]*\) ms).*/\1/p' | mean
}
agent_boot=$(boot "$agent_image")
old_boot=$(boot "$old_image")

host=$(mean < "$work/host.ms"); vm=$(mean < "$work/vm.ms")
echo
echo "Claude Code turn on the host:          $host ms (mean of $runs)"
echo "the same turn as a microVM task (TCG): $vm ms (mean of $runs; workspace, boot, agent, bundle, merge)"
echo "ratio VM task / host turn:             $(awk -v a="$vm" -v b="$host" 'BEGIN {printf "%.1f", a / b}')x"
echo "boot -> runner ready, agent image (initrd + store disk): $agent_boot ms"
echo "boot -> runner ready, previous layout (one initrd):      $old_boot ms"
echo "ratio agent image / previous layout:   $(awk -v a="$agent_boot" -v b="$old_boot" 'BEGIN {printf "%.2f", a / b}')x"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
