#!/usr/bin/env bash
# Secrets: SECRET GET and VERIFY from batond's memory vs batond's PING and Redis' GET
# (interleaved rounds, median ratio), then how fast a rotation reaches 3 daemons.
# Usage: bench/secret_bench.sh BUILD_DIR [ROUNDS] [SECONDS] [ROTATIONS]
set -euo pipefail
build=$(cd "$1" && pwd)
rounds=${2:-3}
seconds=${3:-2}
rotations=${4:-200}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/bench_fleet.sh
source "$here/bench_fleet.sh"
"$build/baton_bench" --baton "$dir/baton-1.sock" --redis "$dir/redis.sock" --scenario secret \
  --rounds "$rounds" --seconds "$seconds"
/usr/bin/python3 "$here/secret_propagation.py" "$rotations" "$dir/baton-1.sock" \
  "$dir/baton-2.sock" "$dir/baton-3.sock"
