#!/bin/sh
# Warm slots: time from submission to the agent's start (the runner's "running agent command" line,
# seen by the host on the VM console) for a task with no setup, a task whose setup costs at least
# SETUP_SECONDS (cold: first task of the repository on the slot), and warm tasks of the same
# repository on the same slot (setup skipped, its cache restored). All measured in this one run,
# interleaved (no setup, warm, no setup, warm, ...), on the agent image; prints each task and the
# ratios. Goal: warm within 1.2x of no setup when cold setup costs >= 20 s.
# Usage: scripts/bench/warm-slot.sh [rounds] [setup_seconds]   (default 3 rounds, 20 s; needs qemu-system-x86, a JDK, mvn)
set -eu
rounds=${1:-3}
setup_seconds=${2:-20}
root=$(cd "$(dirname "$0")/../.." && pwd)
guest=${MVO_GUEST_DIR:-$("$root/scripts/build-guest.sh" agent | tail -n1)}
accel=${MVO_QEMU_ACCEL:-tcg}
java_home=$("$root/scripts/find-java.sh")
work=$(mktemp -d "${TMPDIR:-/tmp}/mvo-warm-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

cd "$root"
[ -d target/test-classes ] || JAVA_HOME=$java_home mvn -B -q -o test-compile
[ -f target/runtime-classpath.txt ] || JAVA_HOME=$java_home mvn -B -q -o generate-resources
cp="target/test-classes:target/classes:$(cat target/runtime-classpath.txt)"
echo "guest $guest, accelerator $accel, $rounds rounds, cold setup sleeps $setup_seconds s"
GIT_CONFIG_GLOBAL=/dev/null "$java_home/bin/java" -cp "$cp" dev.microvm.orchestrator.node.WarmSlotBench "$work" "$guest" "$accel" "$rounds" "$setup_seconds" 2>"$work/bench.err" || {
    tail -n 50 "$work/bench.err" >&2; exit 1; }
