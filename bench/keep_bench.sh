#!/usr/bin/env bash
# Cost of KEEP renewal: one client holds N KEEP leases (default 10000, ttl 3000 ms, so each
# is renewed every second) on one batond; over SECONDS we read batond's CPU time from /proc
# and its Redis writes from /metrics, and print CPU as a share of one core and Redis round
# trips per renewal tick. Usage: bench/keep_bench.sh BUILD_DIR [N] [SECONDS]
set -euo pipefail
build=$(cd "$1" && pwd)
n=${2:-10000}
seconds=${3:-10}
dir=$(mktemp -d /tmp/baton-keep-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no --logfile "$dir/redis.log" &
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
"$build/batond" --socket "$dir/b.sock" --redis "unix://$dir/redis.sock" --http 127.0.0.1:19491 2>"$dir/b.log" &
pid=$!
until redis-cli -s "$dir/b.sock" PING >/dev/null 2>&1; do sleep 0.05; done
metric() { curl -s localhost:19491/metrics | awk -v m="$1" '$1 == m {print $2}'; }
# The holder: acquires N KEEP leases in one pipeline, then just keeps its connection open.
/usr/bin/python3 - "$dir/b.sock" "$n" "$seconds" <<'PY' &
import sys, time, redis
sock, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
r = redis.Redis(unix_socket_path=sock)
p = r.pipeline(transaction=False)
for i in range(n):
    p.execute_command("LEASE", "ACQUIRE", "keep-%d" % i, "3000", "KEEP")
granted = sum(1 for x in p.execute() if isinstance(x, list))
print("holder: %d of %d KEEP leases granted" % (granted, n), flush=True)
time.sleep(seconds + 5)
PY
holder=$!
sleep 2  # acquisitions done, renewals running
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat); trips0=$(metric baton_redis_round_trips_total)
cmds0=$(metric baton_redis_commands_total)
sleep "$seconds"
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat); trips1=$(metric baton_redis_round_trips_total)
cmds1=$(metric baton_redis_commands_total)
ticks=$(echo "$seconds / 1" | bc)  # ttl 3000 ms: one renewal tick per second
held=$(redis-cli -s "$dir/redis.sock" --scan --pattern 'baton:lease:{keep-*}' | grep -vc fence || true)
echo "KEEP leases held in Redis: $held"
# /proc/<pid>/stat counts CPU in ticks of 10 ms: ticks per second = percent of one core.
echo "over ${seconds}s: batond CPU $(echo "scale=1; ($cpu1 - $cpu0) / $seconds" | bc)% of one core"
echo "renewal commands sent: $((cmds1 - cmds0)) ($(echo "scale=0; ($cmds1 - $cmds0) / $ticks" | bc) per tick)"
echo "redis round trips (writes): $((trips1 - trips0)) ($(echo "scale=1; ($trips1 - $trips0) / $ticks" | bc) per tick)"
