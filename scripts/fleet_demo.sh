#!/usr/bin/env bash
# A local fleet for the main job: redis-server + batond a + batond b, all on private sockets
# under a temp dir. Usage: fleet_demo.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/baton-fleet-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n ${redis_pid:-} ]] && kill -9 "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
# bench.yaml reads its secrets KEK from the environment; a real one comes from a file or a
# Kubernetes Secret (deploy/).
BATON_BENCH_KEK=$(openssl rand -hex 32)
export BATON_BENCH_KEK

start_redis() {
  redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
    --logfile "$dir/redis.log" &
  redis_pid=$!
  until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
}
declare -A daemon_pid http_port=([a]=19481 [b]=19482)
start_daemon() { # start_daemon NAME
  "$build/batond" --node-id "node-$1" --config "$here/../bench/bench.yaml" \
    --socket "$dir/$1.sock" --redis "unix://$dir/redis.sock" \
    --http "127.0.0.1:${http_port[$1]}" 2>>"$dir/$1.log" &
  daemon_pid[$1]=$!
  pids+=($!)
  until redis-cli -s "$dir/$1.sock" PING >/dev/null 2>&1; do sleep 0.02; done
}
section() { printf '\n== %s\n' "$*"; }

section "starting redis-server and two daemons in $dir"
start_redis
start_daemon a
start_daemon b
"$build/batonctl" --socket "$dir/a.sock" status
"$build/batonctl" --socket "$dir/b.sock" status

section "commands through redis-cli"
for cmd in "PING" "ECHO hello" "CLIENT INFO" "DEBUG RTT" "NOPE"; do
  printf '$ redis-cli -s b.sock %s\n' "$cmd"
  redis-cli -s "$dir/b.sock" $cmd | sed 's/^/  /'
done

section "a lease across the fleet"
# The holder is one redis-cli connection kept open for 2 s: a lease lives as long as the
# connection that took it (KEEP renews it meanwhile), and is released the moment it closes.
printf '$ (echo LEASE ACQUIRE nightly-report 1000 KEEP META cron; sleep 2) | redis-cli -s a.sock\n'
(echo "LEASE ACQUIRE nightly-report 1000 KEEP META cron"; sleep 2) | redis-cli -s "$dir/a.sock" | sed 's/^/  /' &
holder=$!
sleep 0.3
printf '$ redis-cli -s b.sock LEASE ACQUIRE nightly-report 5000\n'
redis-cli -s "$dir/b.sock" LEASE ACQUIRE nightly-report 5000 | sed 's/^/  /'
sleep 1 # past the 1000 ms TTL: KEEP renewed it
printf '$ redis-cli -s b.sock LEASE INFO nightly-report   # 1.3 s later, still held\n'
redis-cli -s "$dir/b.sock" LEASE INFO nightly-report | paste - - | sed 's/^/  /'
wait "$holder"
printf '(the holder closed its connection; batond released the lease at once)\n'
printf '$ redis-cli -s b.sock LEASE ACQUIRE nightly-report 5000   # a higher token\n'
redis-cli -s "$dir/b.sock" LEASE ACQUIRE nightly-report 5000 | sed 's/^/  /'

section "a rate limit and an idempotency key across the fleet"
# bench-tiers allows 100 a minute, 1000 an hour, 10000 a day per key, counted fleet-wide.
printf '$ RATE CHECK bench-tiers user-7 COST 60 on a, then COST 50 on b (refused), then 40 on b\n'
for step in "a 60" "b 50" "b 40"; do
  read -r node cost <<<"$step"
  redis-cli -s "$dir/$node.sock" RATE CHECK bench-tiers user-7 COST "$cost" | paste -sd' ' |
    sed "s/^/  $node: /"
done
printf '$ DEDUP CLAIM order-1 on a, on b (pending), DONE on a, CLAIM on b (done, with the result)\n'
(echo "DEDUP CLAIM order-1 10000"; sleep 0.3; echo "DEDUP DONE order-1 receipt-17"; sleep 0.3) |
  redis-cli -s "$dir/a.sock" | paste -sd' ' | sed 's/^/  a: /' &
sleep 0.15
redis-cli -s "$dir/b.sock" DEDUP CLAIM order-1 10000 | paste -sd' ' | sed 's/^/  b: /'
wait $!
redis-cli -s "$dir/b.sock" DEDUP CLAIM order-1 10000 | paste -sd' ' | sed 's/^/  b: /'

section "a secret rotated across the fleet"
printf '$ SECRET PUT stripe sk_live_first on a; SECRET GET stripe on b\n'
redis-cli -s "$dir/a.sock" SECRET PUT stripe sk_live_first | paste -sd' ' | sed 's/^/  a: /'
redis-cli -s "$dir/b.sock" SECRET GET stripe | paste -sd' ' | sed 's/^/  b: /'
printf '$ SECRET ROTATE stripe on b; SECRET GET stripe on a (its cache took the announcement)\n'
redis-cli -s "$dir/b.sock" SECRET ROTATE stripe | paste -sd' ' | sed 's/^/  b: /'
redis-cli -s "$dir/a.sock" SECRET GET stripe | paste -sd' ' | sed 's/^/  a: /'
printf '$ SECRET VERIFY stripe sk_live_first on a   # the old key, within its grace window\n'
redis-cli -s "$dir/a.sock" SECRET VERIFY stripe sk_live_first | paste -sd' ' | sed 's/^/  a: /'
printf '$ batonctl secret info stripe\n'
"$build/batonctl" --socket "$dir/a.sock" secret info stripe | sed 's/^/  /'

section "a fleet circuit breaker: failures seen on one host open it on every host"
printf '$ BREAKER CHECK bench-trip on b; 5 x BREAKER REPORT bench-trip fail on a; CHECK on b\n'
redis-cli -s "$dir/b.sock" BREAKER CHECK bench-trip | paste -sd' ' | sed 's/^/  b: /'
for _ in 1 2 3 4 5; do redis-cli -s "$dir/a.sock" BREAKER REPORT bench-trip fail >/dev/null; done
sleep 0.05
redis-cli -s "$dir/b.sock" BREAKER CHECK bench-trip | paste -sd' ' | sed 's/^/  b: /'
printf '$ BREAKER STATE bench-trip on b (the fleet'"'"'s view: who tripped it)\n'
redis-cli -s "$dir/b.sock" BREAKER STATE bench-trip | paste -sd' ' | cut -c1-160 | sed 's/^/  b: /'
printf '$ BREAKER FORCE bench-trip auto on b (an operator closes it everywhere)\n'
redis-cli -s "$dir/b.sock" BREAKER FORCE bench-trip auto | paste -sd' ' | sed 's/^/  b: /'
sleep 0.05
redis-cli -s "$dir/a.sock" BREAKER CHECK bench-trip | paste -sd' ' | sed 's/^/  a: /'

section "health and metrics of node-a"
printf '/healthz: %s   /readyz: %s\n' "$(curl -s localhost:19481/healthz)" "$(curl -s localhost:19481/readyz)"
curl -s localhost:19481/metrics | grep -E '^baton_(requests_total|redis_round_trips_total|redis_commands_total|connected_clients)' | head -12
curl -s localhost:19481/metrics | promtool check metrics && echo "promtool check metrics: ok"

section "benchmark: the same work through batond and straight to redis (2 s each)"
"$build/baton_bench" --baton "$dir/a.sock" --redis "$dir/redis.sock" --seconds 1 --rounds 3

section "rolling restart of both daemons, then a Redis restart, under load"
# A client per daemon calls DEBUG RTT (a Lua script through the link) in a loop and counts
# what it gets; a daemon being restarted is simply not there for a moment.
load() { # load NAME SECONDS
  local ok=0 unavailable=0 refused=0 other=0 end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    out=$(redis-cli -s "$dir/$1.sock" DEBUG RTT 2>&1 | head -1) || true
    case $out in
      redis_time_us) ok=$((ok + 1)) ;;
      UNAVAILABLE*) unavailable=$((unavailable + 1)) ;;
      # A daemon being restarted: not listening, or it closed the connection on SIGTERM
      # (draining in-flight requests first comes with the sessions issue).
      *"Connection refused"*|*"No such file"*|*"Could not connect"*|*"Server closed the connection"*)
        refused=$((refused + 1)) ;;
      *) other=$((other + 1)); echo "  unexpected from $1: $out" ;;
    esac
  done
  echo "$1 ok=$ok unavailable=$unavailable restarting=$refused other=$other" >"$dir/load-$1.txt"
}
load a 8 & la=$!
load b 8 & lb=$!
sleep 1
for n in a b; do
  t0=$(date +%s%N)
  kill -TERM "${daemon_pid[$n]}"; wait "${daemon_pid[$n]}" || true
  start_daemon "$n"
  printf 'restarted node-%s in %d ms (SIGTERM, start, answering PING)\n' "$n" $((($(date +%s%N) - t0) / 1000000))
  sleep 1
done
t0=$(date +%s%N)
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
printf 'redis-server killed; node-a answers: %s\n' "$(redis-cli -s "$dir/a.sock" DEBUG RTT | head -1)"
printf '/readyz of node-a: %s\n' "$(curl -s -w ' (%{http_code})' localhost:19481/readyz)"
sleep 1
start_redis
until [[ $(redis-cli -s "$dir/a.sock" DEBUG RTT | head -1) == redis_time_us ]]; do sleep 0.01; done
printf 'redis-server back after %d ms; node-a serves again; /readyz: %s\n' \
  $((($(date +%s%N) - t0) / 1000000)) "$(curl -s localhost:19481/readyz)"
wait "$la" "$lb"

section "results"
cat "$dir"/load-*.txt
printf 'UNAVAILABLE answers came only while Redis was down; "restarting" (refused, or closed\n'
printf 'by SIGTERM) only while a daemon restarted; "other" would be anything else.\n'
for n in a b; do
  rss=$(curl -s "localhost:${http_port[$n]}/metrics" | awk '/^process_resident_memory_bytes/ {printf "%.1f", $2/1048576}')
  echo "node-$n RSS ${rss} MiB, reconnects $(curl -s "localhost:${http_port[$n]}/metrics" | awk '/^baton_redis_reconnects_total/ {print $2}')"
done
