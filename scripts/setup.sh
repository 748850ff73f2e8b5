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
    redis-server redis-sentinel redis-tools python3 python3-redis prometheus curl openssl ca-certificates \
    python3-pip python3-setuptools python3-wheel mypy \
    python3-fastapi python3-uvicorn python3-httpx python3-websockets \
    nodejs faketime stress-ng util-linux clang libclang-rt-14-dev lintian systemd adduser chromium
  # npm comes with some builds of nodejs (NodeSource's) and apart in Debian's.
  command -v npm >/dev/null || apt-get install -y --no-install-recommends npm
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${BATON_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"

# The Node.js clients the client tests drive (ioredis, node-redis), pinned by package-lock.json.
node_dir=build/node-clients
if ! cmp -s tests/clients/node/package-lock.json "$node_dir/package-lock.json" ||
   [[ ! -d $node_dir/node_modules ]]; then
  mkdir -p "$node_dir"
  cp tests/clients/node/package.json tests/clients/node/package-lock.json "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund)
fi

# The TypeScript library's npm packages (ioredis; typescript, express and ws for its build and
# tests), pinned by clients/node/package-lock.json; clients/node/test/run.js compiles beside them.
lib_dir=build/node-lib
if ! cmp -s clients/node/package-lock.json "$lib_dir/package-lock.json" ||
   [[ ! -d $lib_dir/node_modules ]]; then
  mkdir -p "$lib_dir"
  cp clients/node/package.json clients/node/package-lock.json "$lib_dir/"
  (cd "$lib_dir" && npm ci --no-audit --no-fund)
fi
