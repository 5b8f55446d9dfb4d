#!/bin/sh
# The main job, end to end on this machine: Claude Code runs inside a real QEMU microVM on a
# sample repository, fixes a bug, commits, and the commit is merged back.
#
#   scripts/demo.sh                      Claude Code in the VM
#   scripts/demo.sh --agent-command CMD  a scripted shell agent in the VM instead
#   scripts/demo.sh --simulated-mac      a Mac host, simulated: driver vfkit against the vfkit
#                                        simulator (scripts/vfkit-simulator), the arm64 guest under
#                                        qemu-system-aarch64, everything inside a network namespace
#                                        with vmnet's bridge (scripts/simulated-mac-net; root only).
#                                        A scripted agent fixes the bug unless --agent-command says,
#                                        or --claude: Claude Code in the arm64 guest, driven by the
#                                        local scripted Messages API.
#
# With ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN set, Claude Code talks to the real API through
# the orchestrator's credential proxy (the key never enters the VM). Without one it talks to a
# local scripted Messages API (scripts/scripted-messages-api.py), and says so.
# Builds the jar and the guest images when missing; MVO_DEMO_DIR keeps the demo's state.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agent_command=
simulated_mac=0
claude=0
while [ $# -gt 0 ]; do
    case "$1" in
        --simulated-mac) simulated_mac=1; shift ;;
        --claude) claude=1; shift ;;
        --agent-command) [ $# -ge 2 ] || { echo "demo: --agent-command needs a command" >&2; exit 2; }; agent_command=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "demo: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

[ -f "$here/../target/microvm-orchestrator.jar" ] || "$here/mvn" -B -q package -DskipTests
if [ "$simulated_mac" = 1 ]; then
    exec "$here/demo-simulated-mac.sh" "$agent_command" "$claude"
fi
guest=$("$here/build-guest.sh" agent) || { echo "demo: building the guest image failed (see above)" >&2; exit 1; }
guest=$(printf '%s\n' "$guest" | tail -n1)

work=${MVO_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mvo-demo.XXXXXX")}
state="$work/state"
repo="$work/sample-repo"
mkdir -p "$state"

upstream=https://api.anthropic.com
api_pid=
cleanup() { [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null; return 0; }
trap cleanup EXIT INT TERM
if [ -z "$agent_command" ] && [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${CLAUDE_CODE_OAUTH_TOKEN:-}" ]; then
    rm -f "$work/api.port"
    python3 "$here/scripted-messages-api.py" --port-file "$work/api.port" --log "$work/api.log" 2>/dev/null &
    api_pid=$!
    i=0; while [ ! -s "$work/api.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$work/api.port" ] || { echo "demo: the scripted Messages API did not start" >&2; exit 1; }
    upstream="http://127.0.0.1:$(cat "$work/api.port")"
    # the orchestrator's proxy needs some credential to inject; the scripted API accepts any
    export ANTHROPIC_API_KEY=demo-key-for-the-local-scripted-api
    echo "demo: no ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN set: Claude Code in the VM talks to a LOCAL SCRIPTED"
    echo "      Messages API ($upstream), not to Anthropic. Set one of them to use the real API."
elif [ -z "$agent_command" ]; then
    echo "demo: Claude Code in the VM talks to the real API ($upstream) through the credential proxy"
fi

# Claude Code needs about 2 GiB. Nested virtualization often exposes /dev/kvm without working KVM:
# the demo uses TCG unless MVO_ACCELERATOR says otherwise.
printf '{"driver":"qemu","accelerator":"%s","vm_cpus":2,"vm_memory_mib":2048,"slot_disk_gib":1,"http_port":0,"guest_dir":"%s","api_upstream":"%s"}\n' \
    "${MVO_ACCELERATOR:-tcg}" "$guest" "$upstream" > "$state/config.json"

. "$here/lib/demo-repo.sh"
make_demo_repo "$repo"

mvo="$here/microvm-orchestrator"
"$mvo" --help >/dev/null
"$mvo" allow --state-dir "$state" "$repo" --alias sample >&2
prompt="calc.py's add() subtracts instead of adding. Fix it, add a test in test_calc.py, and commit both with git."
if [ -n "$agent_command" ]; then
    echo "demo: a scripted shell agent runs in the VM: $agent_command"
    "$mvo" run --state-dir "$state" --repo sample --agent-command "$agent_command" "$prompt"
else
    "$mvo" run --state-dir "$state" --repo sample "$prompt"
fi
echo
echo "Sample repository after the task ($repo):"
git -C "$repo" log --oneline --decorate -3
