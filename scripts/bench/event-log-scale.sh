#!/usr/bin/env bash
# Does the event log stay as fast at 1,000,000 events as at 1,000? In one run: fills two logs, then
# measures events-after-N reads on both, and delivery latency (terminal event appended ->
# wait_next_event returns, through the MCP server) over TASKS process-driver tasks on each.
# Prints p50/p99 and the ratios large/small; exit status 0 when both ratios are <= 1.5 and the
# delivery p99 is <= 50 ms.
#
#   scripts/bench/event-log-scale.sh [large-events=1000000] [small-events=1000] [tasks=200] [reads=5000]
#
# Uses a temporary directory (about 350 MB for the large log; BENCH_DIR chooses where, for example
# /dev/shm to take the disk out of the figures) and removes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAVA_HOME=$(scripts/find-java.sh); export JAVA_HOME

mvn -B -q -o test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt >/dev/null \
  || mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt >/dev/null

classpath="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
exec timeout --kill-after=10 3600 \
  "$JAVA_HOME/bin/java" -Xms512m -Xmx2g -Dlogback.configurationFile=scripts/bench/logback-bench.xml \
  -Dproject.basedir="$PWD" -cp "$classpath" \
  dev.microvm.orchestrator.mcp.EventLogScaleBench "${1:-1000000}" "${2:-1000}" "${3:-200}" "${4:-5000}"
