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
# shellcheck source=bench/bench_fleet.sh
source "$here/bench_fleet.sh"
"$build/baton_bench" --baton "$dir/baton-1.sock" --redis "$dir/redis.sock" --scenario breaker \
  --rounds "$rounds" --seconds "$seconds"
/usr/bin/python3 "$here/breaker_propagation.py" "$trips" "$dir/baton-1.sock" \
  "$dir/baton-2.sock" "$dir/baton-3.sock"
