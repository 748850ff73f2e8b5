#!/usr/bin/env bash
# Installs what baton needs from Debian 12's packages and builds it (Release with debug info)
# into build/. Safe to run again. Needs root (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${BATON_SKIP_APT:-0} != 1 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends \
    build-essential cmake pkg-config \
    libcaf-dev libssl-dev libyaml-cpp-dev catch2 libhiredis-dev libboost-dev \
    nlohmann-json3-dev libsystemd-dev \
    redis-server redis-tools python3 python3-redis prometheus curl openssl ca-certificates
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${BATON_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
