#!/usr/bin/env bash
# What a lease grant's announcement costs a Redis Cluster: classic PUBLISH (what a watch channel
# used before, and what the fleet-wide channels still use) against sharded SPUBLISH (a watch
# channel now, redis/shard_channels.hpp), in the same run, by turns. A classic message crosses
# the cluster bus to every node, whether anyone there listens or not; a sharded one stays on its
# shard. Three primaries without replicas on loopback, one subscriber on the channel's primary
# (as a watching daemon would be), redis-benchmark publishing to that primary. Printed per round:
# messages/s, and the CPU per message (used_cpu_user+sys from INFO) of the publishing primary
# and of the two others together. The other nodes' CPU is the bus cost; it grows with the
# number of nodes, which a 2-core machine cannot show beyond three.
#
# Usage: bench/cluster_pubsub_bench.sh [ROUNDS] [MESSAGES]
set -euo pipefail
rounds=${1:-3}
messages=${2:-200000}
dir=$(mktemp -d /tmp/baton-pubsub-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
cpu_of() { # used_cpu_sys + used_cpu_user of the node on port $1, in seconds
  redis-cli -p "$1" INFO cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f\n", s }'
}

ports=()
for i in 1 2 3; do
  port=$(free_port)
  bus=$(free_port)
  mkdir -p "$dir/node$i"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-port "$bus" \
    --cluster-config-file nodes.conf --dir "$dir/node$i" --save '' --appendonly no \
    --logfile "$dir/node$i/redis.log" &
  pids+=($!)
  ports+=("$port")
  until redis-cli -p "$port" PING >/dev/null 2>&1; do sleep 0.05; done
done
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-yes >"$dir/create.log" 2>&1
for p in "${ports[@]}"; do
  until redis-cli -p "$p" CLUSTER INFO 2>/dev/null | grep -q cluster_state:ok; do sleep 0.1; done
done

# A watch channel as baton names it, and the primary serving its slot.
channel='baton:lease-watch:{jobs}'
owner=""
for p in "${ports[@]}"; do # the node that does not answer MOVED serves the slot
  if ! redis-cli -p "$p" SPUBLISH "$channel" probe 2>&1 | grep -q MOVED; then owner=$p; fi
done
others=()
for p in "${ports[@]}"; do [ "$p" = "$owner" ] || others+=("$p"); done

# One subscriber of each kind on the owner, reading (and dropping) every message.
redis-cli -p "$owner" SUBSCRIBE "$channel" >/dev/null &
pids+=($!)
redis-cli -p "$owner" SSUBSCRIBE "$channel" >/dev/null &
pids+=($!)
sleep 0.3

run() { # $1 = PUBLISH|SPUBLISH; prints "msgs/s owner_us_per_msg others_us_per_msg"
  local before_owner before_others=0 after_owner after_others=0 start end
  before_owner=$(cpu_of "$owner")
  for p in "${others[@]}"; do before_others=$(calc "$before_others + $(cpu_of "$p")"); done
  start=$(date +%s.%N)
  redis-benchmark -p "$owner" -n "$messages" -c 8 -P 16 -q "$1" "$channel" \
    'acquired 1733100000000000 10000 node-1 uid=1000 meta' >/dev/null
  end=$(date +%s.%N)
  after_owner=$(cpu_of "$owner")
  for p in "${others[@]}"; do after_others=$(calc "$after_others + $(cpu_of "$p")"); done
  echo "$(calc "$messages / ($end - $start)") \
$(calc "($after_owner - $before_owner) * 1000000 / $messages") \
$(calc "($after_others - $before_others) * 1000000 / $messages")"
}

echo "3 primaries, channel $channel on :$owner, $messages messages per run"
declare -a classic_others sharded_others
for r in $(seq 1 "$rounds"); do
  read -r c_rate c_owner c_others < <(run PUBLISH)
  read -r s_rate s_owner s_others < <(run SPUBLISH)
  printf '  round %d: PUBLISH  %8.0f msg/s  owner %5.2f us/msg  other nodes %5.2f us/msg\n' \
    "$r" "$c_rate" "$c_owner" "$c_others"
  printf '           SPUBLISH %8.0f msg/s  owner %5.2f us/msg  other nodes %5.2f us/msg   rate %.2fx\n' \
    "$s_rate" "$s_owner" "$s_others" "$(calc "$s_rate / $c_rate")"
  classic_others+=("$c_others")
  sharded_others+=("$s_others")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'median CPU on the other nodes per message: PUBLISH %.2f us, SPUBLISH %.2f us\n' \
  "$(median "${classic_others[@]}")" "$(median "${sharded_others[@]}")"
