#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (unit, integration against a real
# redis-server, real clients). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 300
