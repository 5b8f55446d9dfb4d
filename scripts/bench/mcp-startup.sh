#!/usr/bin/env bash
# How fast does the stdio MCP server answer `initialize`? Starts the server RUNS times, writes
# initialize at once (as Claude Code does), and prints the time from process start to the reply,
# then closes stdin and prints how long the server took to exit.
#
#   scripts/bench/mcp-startup.sh [RUNS] [-- SERVER COMMAND...]
#
# Without a command it runs the stdio server from target/ (run `mvn test-compile` first) with a
# scripted node on a throw-away state directory. JAVA_OPTS is passed to that JVM. To measure the
# product: scripts/bench/mcp-startup.sh 5 -- java -jar target/microvm-orchestrator.jar mcp
# (class directories load slower than jars, and a JDK 25 AOT cache, -XX:AOTCache=FILE made with
# -XX:AOTCacheOutput=FILE on a first run, cuts the start-up further).
# Target on a 2-core machine: initialize within 1500 ms. The machine's load is printed because
# a shared machine's figures are only comparable at similar load.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=5
if [[ $# -gt 0 && $1 != "--" ]]; then runs=$1; shift; fi
if [[ $# -gt 0 && $1 == "--" ]]; then shift; fi

java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
state_root=$(mktemp -d)
trap 'rm -rf "$state_root"' EXIT

server_cmd() {
  if [[ ${#cmd_override[@]} -gt 0 ]]; then
    "${cmd_override[@]}"
  else
    [[ -f target/runtime-classpath.txt && -d target/test-classes ]] || { echo "run 'mvn test-compile' first" >&2; exit 2; }
    # shellcheck disable=SC2086
    exec "$java_bin" ${JAVA_OPTS:-} -cp "target/classes:target/test-classes:$(cat target/runtime-classpath.txt)" \
      dev.microvm.orchestrator.mcp.ScriptedMcpServerMain "$1"
  fi
}
cmd_override=("$@")

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-startup-bench","version":"1"}}}'
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), cpus: $(nproc)"
results=()
for i in $(seq 1 "$runs"); do
  state="$state_root/run$i"
  start=$(now_ms)
  coproc SERVER { server_cmd "$state" 2>/dev/null; }
  echo "$init" >&"${SERVER[1]}"
  if ! IFS= read -r -t 30 reply <&"${SERVER[0]}"; then
    echo "run $i: no reply within 30 s" >&2; exit 1
  fi
  replied=$(now_ms)
  [[ $reply == *'"id":1'*'"result"'* ]] || { echo "run $i: unexpected reply: $reply" >&2; exit 1; }
  pid=$SERVER_PID
  exec {SERVER[1]}>&-
  wait "$pid" || true
  exited=$(now_ms)
  results+=($((replied - start)))
  echo "run $i: initialize answered after $((replied - start)) ms; exited $((exited - replied)) ms after stdin closed"
done

sorted=($(printf '%s\n' "${results[@]}" | sort -n))
median=${sorted[$(( ${#sorted[@]} / 2 ))]}
echo "initialize: min ${sorted[0]} ms, median $median ms, max ${sorted[-1]} ms over $runs runs (target < 1500 ms)"
