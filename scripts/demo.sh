#!/bin/sh
# The main job, end to end on this machine: builds the jar and the test guest if missing,
# registers a sample repository, runs one real task in a real QEMU microVM with a scripted agent,
# and prints the task's final record (merge result included) and the repository's new history.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/../target/microvm-orchestrator.jar" ] || "$here/mvn" -B -q package -DskipTests
"$here/build-test-guest.sh" >&2

work=${MVO_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mvo-demo.XXXXXX")}
state="$work/state"
repo="$work/sample-repo"
mkdir -p "$state"
# Nested virtualization often exposes /dev/kvm without working KVM: the demo uses TCG unless told.
printf '{"driver":"qemu","accelerator":"%s","vm_cpus":1,"vm_memory_mib":512,"slot_disk_gib":1,"http_port":0}\n' \
    "${MVO_ACCELERATOR:-tcg}" > "$state/config.json"

if [ ! -d "$repo/.git" ]; then
    git init -q -b main "$repo"
    git -C "$repo" config user.name "Demo User"
    git -C "$repo" config user.email "demo@example.com"
    printf 'def add(a, b):\n    return a - b\n' > "$repo/calc.py"
    git -C "$repo" add calc.py
    git -C "$repo" commit -q -m "Add calculator"
fi

mvo="$here/microvm-orchestrator"
"$mvo" --help >/dev/null
"$mvo" allow --state-dir "$state" "$repo" --alias sample >&2
# The scripted agent stands in for Claude Code: it fixes the bug and commits, inside the VM.
agent='sed -i "s/a - b/a + b/" calc.py && printf "assert add(2, 3) == 5\n" > test_calc.py && git add -A && git commit -q -m "Fix add() and add a test"'
"$mvo" run --state-dir "$state" --repo sample --agent-command "$agent" "Fix the add function and add a test"
echo
echo "Sample repository after the task ($repo):"
git -C "$repo" log --oneline --decorate -3
