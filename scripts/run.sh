#!/usr/bin/env bash
# The main job: installs, builds, then runs a local fleet (a private redis-server and two
# batond daemons) and shows it working: commands through redis-cli, batonctl, /metrics and
# /readyz, the benchmark against direct Redis, a rolling restart of both daemons under load,
# and a Redis restart under load, with what the clients saw printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/fleet_demo.sh build
