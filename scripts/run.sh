#!/usr/bin/env bash
# The main job: installs, builds, then
# 1. the rolling deploy: a private redis-server and 3 batond daemons under a workload of 1,000
#    sessions (state writes and touches at a steady rate), each daemon restarted in turn
#    (SIGTERM drains it: its sessions move to the others and their clients resume there);
#    it prints sessions, requests, errors, sessions moved, handoff p50/p99 and what was lost;
# 2. a tour of the rest on a two-daemon fleet: leases, rate limits, idempotency keys, secrets,
#    batonctl, /metrics, the benchmarks against direct Redis, a Redis restart under load;
# 3. a short chaos run (chaos/run): every workload on 3 daemons under a seeded mix of faults,
#    its verdicts, and where its report and timeline picture are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
printf '\n== the rolling deploy: 3 daemons, 1000 sessions, each daemon restarted in turn\n'
bash scripts/rolling_restart.sh build 1000 20
bash scripts/fleet_demo.sh build
printf '\n== a short chaos run: every workload, 3 daemons, 90 s of seeded faults (chaos/README.md)\n'
chaos_out=build/chaos-runs/main-job
rm -rf "$chaos_out"
if ! chaos/run --seed 7 --duration 90s --faults all --out "$chaos_out" | sed -n '/^baton chaos run/,$p'; then
  echo "the chaos run found a violation: $chaos_out/summary.txt names it"
  exit 1
fi
