#!/usr/bin/env bash
# Measures task workspace preparation on a large repository:
#   ours (alternates to a read-only share), the original tool's `git init && git fetch && checkout`,
#   and a plain checkout of the same tree (the floor: writing the files).
# The benchmark repository is built once with `git fast-import` and cached.
#
# usage: scripts/bench/git-prepare.sh [--commits N] [--files N] [--runs N] [--huge]
#   --huge   also run with 10x the history (1,000,000 commits by default; slow to build the first time)
# env:   BENCH_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/microvm-orchestrator-bench)
set -euo pipefail

JAVA_HOME=$("$(dirname "$0")/../find-java.sh") || exit 1
export JAVA_HOME

commits=100000
files=2000
runs=5
huge=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --commits) commits="$2"; shift 2 ;;
    --files) files="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --huge) huge=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

project="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microvm-orchestrator-bench}"
mkdir -p "$cache"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# Builds (once) a repository with $1 commits over $2 files; each commit rewrites one file.
build_repo() {
  local n="$1" nfiles="$2" dir="$cache/repo-$1-$2"
  if [[ -f "$dir/.complete" ]]; then echo "$dir"; return; fi
  rm -rf "$dir"
  git init -q -b main "$dir"
  echo "building $dir ($n commits, $nfiles files) with git fast-import ..." >&2
  awk -v n="$n" -v nf="$nfiles" 'BEGIN {
    ts = 1700000000
    for (i = 1; i <= n; i++) {
      printf "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n", i, ts + i
      msg = "commit " i
      printf "data %d\n%s\n", length(msg), msg
      if (i > 1) printf "from :%d\n", i - 1
      if (i == 1) {
        for (f = 0; f < nf; f++) {
          body = sprintf("file %d\nrevision 0\n%s\n", f, "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor")
          printf "M 100644 inline src/d%d/f%d.txt\ndata %d\n%s\n", f % 50, f, length(body), body
        }
      } else {
        f = i % nf
        body = sprintf("file %d\nrevision %d\n%s\n", f, i, "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor")
        printf "M 100644 inline src/d%d/f%d.txt\ndata %d\n%s\n", f % 50, f, length(body), body
      }
      printf "\n"
    }
  }' | git -C "$dir" fast-import --quiet
  git -C "$dir" checkout -q -f main
  git -C "$dir" repack -q -a -d
  touch "$dir/.complete"
  echo "$dir"
}

# the benchmark is test code: it runs from target/test-classes
if [[ ! -f "$project/target/runtime-classpath.txt" || ! -d "$project/target/test-classes/dev/microvm/orchestrator/git/bench" ]]; then
  (cd "$project" && mvn -B -q -o test-compile 2>/dev/null || mvn -B -q test-compile)
fi
classpath="$project/target/test-classes:$project/target/classes:$(cat "$project/target/runtime-classpath.txt")"

run_one() {
  local repo scratch
  repo="$(build_repo "$1" "$files")"
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/prepare-bench.XXXXXX")"
  trap 'rm -rf "$scratch"' RETURN
  "$JAVA_HOME/bin/java" -Dlogback.configurationFile="$project/scripts/bench/logback-bench.xml" -cp "$classpath" dev.microvm.orchestrator.git.bench.PrepareBenchmark "$repo" "$scratch" "$runs"
}

run_one "$commits"
if [[ "$huge" == 1 ]]; then
  echo
  run_one "$((commits * 10))"
fi
