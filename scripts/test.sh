#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (unit, integration against a real
# redis-server, real clients). Before it, the sanitizer stage (scripts/sanitize.sh: ASan and
# UBSan over the unit, actor and Lua tests, and the fuzz corpus replayed and fuzzed briefly);
# it fails the run on any finding. Ends with ctest's summary of the main suite, which .ci/run
# relies on. BATON_SKIP_SANITIZE=1 leaves the sanitizer stage out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [[ ${BATON_SKIP_SANITIZE:-0} != 1 ]]; then
  bash scripts/sanitize.sh
fi
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 300
