#!/usr/bin/env bash
# Rate limits: RATE CHECK through batond vs the same Lua script straight to Redis, and
# refusals from the over-limit cache vs refusals decided by Redis, interleaved rounds with the
# median ratio; then Redis memory per active key.
# Usage: bench/rate_bench.sh BUILD_DIR [ROUNDS] [SECONDS]
set -euo pipefail
build=$(cd "$1" && pwd)
rounds=${2:-5}
seconds=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/baton-rate-bench-XXXXXX)
cleanup() {
  kill "${baton_pid:-}" 2>/dev/null || true
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
  --logfile "$dir/redis.log" &
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
BATON_BENCH_KEK=$(openssl rand -hex 32)
export BATON_BENCH_KEK
"$build/batond" --config "$here/bench.yaml" --socket "$dir/baton.sock" \
  --redis "unix://$dir/redis.sock" --http off --node-id bench 2>"$dir/batond.log" &
baton_pid=$!
until redis-cli -s "$dir/baton.sock" PING >/dev/null 2>&1; do sleep 0.05; done
"$build/baton_bench" --baton "$dir/baton.sock" --redis "$dir/redis.sock" --scenario rate \
  --rounds "$rounds" --seconds "$seconds"
redis-cli -s "$dir/baton.sock" RATE CHECK bench-tiers user-42 >/dev/null
key=$(redis-cli -s "$dir/redis.sock" --scan --pattern 'baton:rate:bench-tiers:*' | head -1)
echo "Redis memory of one active gcra key with 3 windows ($key):" \
  "$(redis-cli -s "$dir/redis.sock" MEMORY USAGE "$key") bytes"
