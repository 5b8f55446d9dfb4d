#!/usr/bin/env bash
# Load test of the event stream on loopback: N WebSocket subscribers receive M events/s for T
# seconds; prints p50/p99 delivery latency and lost events. Bounded in time; touches nothing but
# 127.0.0.1 and a temporary state directory.
#
#   scripts/bench/event-stream-load.sh [subscribers=100] [events-per-second=1000] [seconds=10] [warmup-seconds=2]
#
# Exit status 0 when no event was lost or duplicated and p99 <= 50 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=$(scripts/find-java.sh); export JAVA_HOME

subscribers="${1:-100}"
rate="${2:-1000}"
seconds="${3:-10}"
warmup="${4:-2}"

mvn -B -q -o test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt >/dev/null \
  || mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt >/dev/null

classpath="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
exec timeout --kill-after=10 "$((seconds + 90))" \
  "$JAVA_HOME/bin/java" -Xms512m -Xmx2g -Dlogback.configurationFile=scripts/bench/logback-bench.xml -cp "$classpath" \
  dev.microvm.orchestrator.stream.EventStreamLoadBench "$subscribers" "$rate" "$seconds" "$warmup"
