#!/usr/bin/env bash
# Breakers: BREAKER CHECK and REPORT from batond's memory vs batond's PING
# (interleaved rounds, median ratio), then how fast a trip reaches 3 daemons.
# Usage: bench/breaker_bench.sh BUILD_DIR [ROUNDS] [SECONDS] [TRIPS]
set -euo pipefail
build=$(cd "$1" && pwd)
rounds=${2:-3}
seconds=${3:-2}
trips=${4:-200}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/baton-breaker-bench-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
BATON_BENCH_KEK=$(openssl rand -hex 32)
export BATON_BENCH_KEK
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
  --logfile "$dir/redis.log" &
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
for n in 1 2 3; do
  "$build/batond" --config "$here/bench.yaml" --socket "$dir/baton-$n.sock" \
    --redis "unix://$dir/redis.sock" --http off --node-id "bench-$n" 2>"$dir/batond-$n.log" &
  pids+=($!)
done
for n in 1 2 3; do
  until redis-cli -s "$dir/baton-$n.sock" PING >/dev/null 2>&1; do sleep 0.05; done
done
"$build/baton_bench" --baton "$dir/baton-1.sock" --redis "$dir/redis.sock" --scenario breaker \
  --rounds "$rounds" --seconds "$seconds"
/usr/bin/python3 "$here/breaker_propagation.py" "$trips" "$dir/baton-1.sock" \
  "$dir/baton-2.sock" "$dir/baton-3.sock"
