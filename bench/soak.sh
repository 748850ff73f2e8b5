#!/usr/bin/env bash
# Memory soak: 64 busy connections against batond for MINUTES (default 10), alternating PING
# and DEBUG RTT (through the Redis link), sampling batond's RSS from /metrics each minute.
# Usage: bench/soak.sh BUILD_DIR [MINUTES]
set -euo pipefail
build=$(cd "$1" && pwd)
minutes=${2:-10}
dir=$(mktemp -d /tmp/baton-soak-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no --logfile "$dir/redis.log" &
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
"$build/batond" --socket "$dir/b.sock" --redis "unix://$dir/redis.sock" --http 127.0.0.1:19490 2>"$dir/b.log" &
until redis-cli -s "$dir/b.sock" PING >/dev/null 2>&1; do sleep 0.05; done
rss() { curl -s localhost:19490/metrics | awk '/^process_resident_memory_bytes/ {printf "%.1f", $2/1048576}'; }
echo "minute 0: RSS $(rss) MiB (idle)"
for m in $(seq "$minutes"); do
  scenario=$([[ $((m % 2)) == 0 ]] && echo ping || echo script)
  "$build/baton_bench" --baton "$dir/b.sock" --redis "$dir/redis.sock" --connections 64 \
    --seconds 27 --scenario "$scenario" | grep batond | sed "s/^/minute $m: /"
  echo "minute $m: RSS $(rss) MiB"
done
