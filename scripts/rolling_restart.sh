#!/usr/bin/env bash
# The main job: a local fleet (redis-server + 3 batond) under a session workload, restarted
# one daemon at a time the way a deploy does it (SIGTERM: drain, hand sessions off, exit;
# then start again). Prints the workload's counts, each drain's report, and what was lost.
# Usage: rolling_restart.sh BUILD_DIR [SESSIONS] [SECONDS]
set -euo pipefail
build=$(cd "$1" && pwd)
sessions=${2:-1000}
seconds=${3:-20}
dir=$(mktemp -d /tmp/baton-rolling-XXXXXX)
declare -A pid
cleanup() {
  exec 2>/dev/null # no "Killed" notices for the processes stopped here
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  redis-cli -s "$dir/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
openssl rand -hex 32 >"$dir/kek"
cat >"$dir/baton.yaml" <<YAML
secrets:
  keks:
    - {id: fleet, file: $dir/kek}
membership: {heartbeat_ms: 200, ttl_ms: 2000}
sessions: {handoff_deadline_ms: 5000}
YAML
redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
  --logfile "$dir/redis.log" --daemonize no &
pid[redis]=$!
until redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1; do sleep 0.05; done
start() { # start NAME
  "$build/batond" --node-id "$1" --config "$dir/baton.yaml" --socket "$dir/$1.sock" \
    --redis "unix://$dir/redis.sock" --http off 2>>"$dir/$1.log" &
  pid[$1]=$!
  until [[ $(redis-cli -s "$dir/$1.sock" NODE INFO 2>/dev/null | sed -n 2p) == "$1" ]]; do
    sleep 0.02
  done
}
for n in node-1 node-2 node-3; do start "$n"; done
echo "fleet: redis-server and node-1, node-2, node-3 in $dir"
echo "workload: $sessions sessions, state writes and touches at 2000/s for ${seconds}s; each"
echo "daemon is restarted in turn (SIGTERM: drain, hand off, exit; then start). handoff_p50/p99:"
echo "from the drain's start to each session resumed on its new owner."
"$build/baton_session_load" --sockets "$dir/node-1.sock,$dir/node-2.sock,$dir/node-3.sock" \
  --sessions "$sessions" --seconds "$seconds" --rate 2000 >"$dir/load.txt" 2>&1 &
load=$!
sleep 3
for n in node-1 node-2 node-3; do
  t0=$(date +%s%N)
  kill -TERM "${pid[$n]}"
  wait "${pid[$n]}" || true
  stopped=$((($(date +%s%N) - t0) / 1000000))
  report=$(grep 'msg=drained' "$dir/$n.log" | tail -1 | grep -o 'sessions=.*' || echo "owned no sessions")
  start "$n"
  printf '%s: drained and stopped in %d ms, back in %d ms\n  drain: %s\n' "$n" "$stopped" \
    $((($(date +%s%N) - t0) / 1000000 - stopped)) "$report"
  sleep 2
done
status=0
wait "$load" || status=$?
echo
cat "$dir/load.txt"
echo
# Redis memory of one session without state: its hash, plus its entries in the user's and
# the node's index (the user's index exists for this user only, so it counts whole).
id=$(redis-cli -s "$dir/node-1.sock" SESSION OPEN memory-probe | sed -n 2p)
hash=$(redis-cli -s "$dir/redis.sock" MEMORY USAGE "baton:session:{$id}")
user_index=$(redis-cli -s "$dir/redis.sock" MEMORY USAGE "baton:user-sessions:{memory-probe}")
echo "Redis memory per session without state: $hash bytes (hash) + $user_index bytes (a user's index with one entry) = $((hash + user_index)) bytes"
exit "$status"
