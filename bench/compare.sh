#!/usr/bin/env bash
# Before and after in the same run: two builds of baton (say, main before a change and after
# it) measured by turns on this machine, so that its noise falls on both alike. For each build
# and round it prints the median batond/Redis ratios of baton_bench (PING, SECRET GET, RATE
# CHECK, LEASE ACQUIRE+RELEASE), the CPU 10,000 KEEP leases cost, a rotation's reach p99 over
# 3 daemons and the drain of 1,000 sessions (handoff p99) in the rolling deploy.
# Usage: bench/compare.sh BEFORE_BUILD AFTER_BUILD [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
before=$(cd "$1" && pwd)
after=$(cd "$2" && pwd)
rounds=${3:-2}
out=$(mktemp -d /tmp/baton-compare-XXXXXX)
trap 'rm -rf "$out"' EXIT

# baton_bench against a fresh Redis and one batond of BUILD; prints "scenario ratio" lines.
ratios() {
  local build=$1 dir
  dir=$(mktemp -d /tmp/baton-ratio-XXXXXX)
  BATON_BENCH_KEK=$(openssl rand -hex 32) && export BATON_BENCH_KEK
  redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
    --logfile "$dir/redis.log" &
  local redis=$!
  until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
  "$build/batond" --config "$here/bench.yaml" --socket "$dir/b.sock" \
    --redis "unix://$dir/redis.sock" --http off 2>"$dir/b.log" &
  local baton=$!
  until redis-cli -s "$dir/b.sock" PING >/dev/null 2>&1; do sleep 0.05; done
  "$build/baton_bench" --baton "$dir/b.sock" --redis "$dir/redis.sock" --scenario all \
    --rounds 3 --seconds 2 >"$dir/bench.txt" 2>&1 || true
  kill "$baton" "$redis" 2>/dev/null || true
  wait "$baton" "$redis" 2>/dev/null || true
  # Each scenario's title line, then its "median ratio" line.
  awk '/^[^ ]/ {title=$0} /median ratio/ {sub(/^ +/, ""); print title " :: " $0}' "$dir/bench.txt"
  rm -rf "$dir"
}

keep_cpu() {
  bash "$here/keep_bench.sh" "$1" 10000 10 2>/dev/null | awk '/batond CPU/ {print $5 " of one core"}'
}

rotation_p99() {
  bash "$here/secret_bench.sh" "$1" 1 1 100 2>/dev/null | grep -iE "p99" | tail -1
}

drain_p99() {
  bash "$here/../scripts/rolling_restart.sh" "$1" 1000 12 2>/dev/null |
    grep -oE "handoff_p99_ms=[0-9-]+" | tr '\n' ' '
}

for round in $(seq 1 "$rounds"); do
  # Which build goes first alternates, as baton_bench's own rounds do.
  if ((round % 2)); then order=("before" "after"); else order=("after" "before"); fi
  for which in "${order[@]}"; do
    build=$before
    [ "$which" = after ] && build=$after
    echo "== round $round: $which ($build)"
    ratios "$build" | sed 's/^/   /'
    echo "   10,000 KEEP leases: $(keep_cpu "$build")"
    echo "   rotation reach: $(rotation_p99 "$build")"
    echo "   drain of 1,000 sessions: $(drain_p99 "$build")"
  done
done
