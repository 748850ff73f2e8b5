#!/usr/bin/env bash
# batond on a Redis Cluster against batond on one Redis, in the same run, by turns, so that the
# machine's noise falls on both: LEASE ACQUIRE+RELEASE pairs and admitted RATE CHECKs from
# baton_bench (16 connections, one lease name per connection, spread over the slots), the
# ops/s of each, the cluster's ratio, and batond's CPU per operation (utime+stime of the daemon
# over the run, from /proc: on a shared 2-core machine the steadier number). baton_bench also
# runs its other rows on the same daemon (the rate scenario's cached refusals) and its Redis rows
# against the single server; the CPU per operation counts only the admitted rows' operations,
# so it is a number to compare between A and B, not an absolute cost.
#
# The single Redis (A) and the cluster's three primaries (B, no replicas: throughput, not
# failover, is measured here) all listen on loopback TCP, so both links pay the same transport.
# Target (issue 15): B >= 1.0x A. On one 2-core machine the three primaries share the cores
# with batond and the load generator, so this shows the router's cost, not a cluster's reach.
#
# Usage: bench/cluster_bench.sh BUILD_DIR [ROUNDS] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
rounds=${2:-3}
seconds=${3:-3}
dir=$(mktemp -d /tmp/baton-cluster-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${keep_logs:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
keep_logs=${KEEP_LOGS:-}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ping() { until redis-cli "$@" PING >/dev/null 2>&1; do sleep 0.05; done; }

# A: one redis-server (TCP, and a Unix socket for baton_bench's own Redis rows).
single=$(free_port)
redis-server --port "$single" --bind 127.0.0.1 --unixsocket "$dir/single.sock" --save '' \
  --appendonly no --logfile "$dir/single.log" &
pids+=($!)
wait_ping -p "$single"

# B: three primaries. The bus port is chosen too: port+10000 may not exist.
nodes=()
for i in 1 2 3; do
  port=$(free_port)
  bus=$(free_port)
  mkdir -p "$dir/node$i"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-port "$bus" \
    --cluster-config-file nodes.conf --dir "$dir/node$i" --save '' --appendonly no \
    --logfile "$dir/node$i/redis.log" &
  pids+=($!)
  nodes+=("127.0.0.1:$port")
  wait_ping -p "$port"
done
redis-cli --cluster create "${nodes[@]}" --cluster-yes >"$dir/create.log" 2>&1
for n in "${nodes[@]}"; do
  until redis-cli -p "${n#*:}" CLUSTER INFO 2>/dev/null | grep -q cluster_state:ok; do
    sleep 0.1
  done
done
seeds=$(IFS=,; echo "${nodes[*]}")

BATON_BENCH_KEK=$(openssl rand -hex 32) && export BATON_BENCH_KEK
start_batond() { # name url
  "$build/batond" --config "$here/bench.yaml" --socket "$dir/baton-$1.sock" --redis "$2" --http off \
    --node-id "$1" 2>"$dir/$1.log" &
  pids+=($!)
  eval "pid_$1=$!"
  wait_ping -s "$dir/baton-$1.sock"
}
start_batond single "redis://127.0.0.1:$single"
start_batond cluster "redis-cluster://$seeds"
until redis-cli -s "$dir/baton-cluster.sock" INFO redis | grep -q "redis_reachable:1"; do sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One measurement: scenario on one daemon; prints "ops_per_s cpu_us_per_op".
measure() { # daemon scenario label
  local pid_var="pid_$1" before after ops
  before=$(cpu_ticks "${!pid_var}")
  "$build/baton_bench" --baton "$dir/baton-$1.sock" --redis "$dir/single.sock" --scenario "$2" \
    --rounds 1 --seconds "$seconds" --connections 16 >"$dir/run.txt" 2>&1
  after=$(cpu_ticks "${!pid_var}")
  ops=$(awk -v label="$3" 'index($0, label) {for (i = 1; i <= NF; i++) if ($(i + 1) == "ops/s") {print $i; exit}}' "$dir/run.txt")
  # The daemon's CPU covers the warm-up too (500 ms of the same load): counted in its ops.
  awk -v o="$ops" -v t=$((after - before)) -v s="$seconds" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.0f %.1f\n", o, t / hz * 1e6 / (o * (s + 0.5))}'
}

echo "batond on a 3-primary Redis Cluster (B) against batond on one Redis (A), all on loopback"
echo "TCP, $rounds rounds of ${seconds}s per measurement, alternated; 16 connections."
for scenario in "lease:batond LEASE ACQUIRE/RELEASE" "rate:batond RATE CHECK "; do
  name=${scenario%%:*}
  label=${scenario#*:}
  ratios=()
  echo
  echo "$label"
  for round in $(seq 1 "$rounds"); do
    if ((round % 2)); then order=(single cluster); else order=(cluster single); fi
    declare -A row=()
    for which in "${order[@]}"; do row[$which]=$(measure "$which" "$name" "$label"); done
    read -r a_ops a_cpu <<<"${row[single]}"
    read -r b_ops b_cpu <<<"${row[cluster]}"
    ratio=$(awk -v a="$a_ops" -v b="$b_ops" 'BEGIN {printf "%.2f", b / a}')
    ratios+=("$ratio")
    printf "  round %d: A %8s ops/s (%5s us CPU/op)   B %8s ops/s (%5s us CPU/op)   B/A %sx\n" \
      "$round" "$a_ops" "$a_cpu" "$b_ops" "$b_cpu" "$ratio"
  done
  printf "  median B/A: %sx\n" "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
done
echo
echo "cluster link: $(redis-cli -s "$dir/baton-cluster.sock" INFO redis | grep -E 'redis_cluster_(primaries|moved)' | tr -d '\r' | tr '\n' ' ')"
