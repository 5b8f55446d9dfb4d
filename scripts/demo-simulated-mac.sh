#!/bin/sh
# scripts/demo.sh --simulated-mac: the demo task on a Mac host, simulated. The orchestrator runs with
# driver vfkit against the vfkit simulator (scripts/vfkit-simulator: vfkit's command line and REST
# API, the arm64 agent guest under qemu-system-aarch64 TCG) inside a network namespace holding
# vmnet's bridge100 with the host at 192.168.64.1 and DHCP (scripts/simulated-mac-net), removed on
# exit. The agent is a scripted shell command ($1, or a built-in fix of the sample's bug), or with
# $2 = 1 Claude Code in the guest, talking to the local scripted Messages API through the proxy.
# Needs root. MVO_DEMO_DIR keeps the demo's state.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agent_command=${1:-}
claude=${2:-0}
[ "$(id -u)" = 0 ] || { echo "demo: --simulated-mac needs root (a network namespace, virtiofsd)" >&2; exit 1; }
guest=$("$here/build-guest.sh" agent-arm64) || { echo "demo: building the guest image failed (see above)" >&2; exit 1; }
guest=$(printf '%s\n' "$guest" | tail -n1)

work=${MVO_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mvo-demo-mac.XXXXXX")}
state="$work/state"
repo="$work/sample-repo"
mkdir -p "$state"
net=mvo-demo-mac-$$
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
    "$here/simulated-mac-net" down "$net"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$here/simulated-mac-net" up "$net" 192.168.64.1/24
inside() { "$here/simulated-mac-net" exec "$net" "$@"; }

# the fake upstream, inside the namespace on its loopback (only the orchestrator's proxy reaches it)
rm -f "$work/api.port"
# (one command, no function: $! is then the server itself, which cleanup stops)
"$here/simulated-mac-net" exec "$net" python3 "$here/scripted-messages-api.py" --port-file "$work/api.port" --log "$work/api.log" \
    >/dev/null 2>&1 &
api_pid=$!
i=0; while [ ! -s "$work/api.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$work/api.port" ] || { echo "demo: the scripted Messages API did not start" >&2; exit 1; }
export ANTHROPIC_API_KEY=demo-key-for-the-local-scripted-api

memory=1024
[ "$claude" = 1 ] && memory=2048   # Claude Code needs about 2 GiB
printf '{"driver":"vfkit","vfkit_binary":"%s","vm_cpus":2,"vm_memory_mib":%s,"slot_disk_gib":1,"http_port":0,"guest_dir":"%s","api_upstream":"http://127.0.0.1:%s","boot_timeout_seconds":300}\n' \
    "$here/vfkit-simulator" "$memory" "$guest" "$(cat "$work/api.port")" > "$state/config.json"

. "$here/lib/demo-repo.sh"
make_demo_repo "$repo"
if [ "$claude" = 1 ]; then
    agent_command=
elif [ -z "$agent_command" ]; then
    agent_command='sed -i "s/a - b/a + b/" calc.py && printf "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n" > test_calc.py && git add calc.py test_calc.py && git commit -q -m "Fix add() and test it (agent on $(uname -m), gateway $(ip route | sed -n "s/^default via \([0-9.]*\).*/\1/p"))"'
fi

mvo="$here/microvm-orchestrator"
"$mvo" allow --state-dir "$state" "$repo" --alias sample >&2
arch=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["architecture"])' "$guest/mvo-image.json")
echo "demo: simulated Mac: driver vfkit (the vfkit simulator), guest architecture $arch ($guest), vmnet gateway 192.168.64.1 in network namespace $net"
prompt="calc.py's add() subtracts instead of adding. Fix it, add a test in test_calc.py, and commit both with git."
start=$(date +%s)
if [ -n "$agent_command" ]; then
    echo "demo: a scripted shell agent runs in the VM: $agent_command"
    inside "$mvo" run --state-dir "$state" --repo sample --network full --agent-command "$agent_command" "$prompt"
else
    echo "demo: Claude Code runs in the VM, talking to a LOCAL SCRIPTED Messages API through the credential proxy"
    inside "$mvo" run --state-dir "$state" --repo sample --network full "$prompt"
fi
echo
echo "demo: the task took $(( $(date +%s) - start )) s on the simulated Mac (driver vfkit, guest $arch)"
echo "Sample repository after the task ($repo):"
git -C "$repo" log --oneline --decorate -3
