#!/usr/bin/env bash
# Installs every dependency from Debian 12's archive (idempotent: quick when all are
# present), then configures and builds crucible (Release, ccache when present).
#   scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev catch2 libseccomp-dev nlohmann-json3-dev libyaml-cpp-dev libpcre2-dev
  libutf8proc-dev zlib1g-dev python3 python3-dev libpython3.11-dev
  libtorch-dev libopenblas0-pthread libgloo-dev
  python3-torch python3-numpy
  chromium  # renders report.html in tests/cli/run_report_test.cc
  prometheus  # promtool and a real server for tests/deploy (never started as a service)
  slurm-wlm munge  # a real Slurm cluster on this machine for tests/deploy/slurm_test.py
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # Installing must not start services (prometheus's stock server would listen on a
  # public port): invoke-rc.d asks policy-rc.d, and 101 means "not allowed".
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# crucible setup: no service starts during package installs.\nexit 101\n' |
      $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node (for the dashboards' schema check, tests/deploy): the machine's own when it has one
# (npm included), else Debian's.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# The schemas the deploy tests validate against, with the JSON Schema tools, pinned by each
# package-lock.json (npm registry): @grafana/schema for the dashboards, kubernetes-models
# for deploy/k8s.
for SCHEMA_DIR in deploy/grafana/schema deploy/k8s/schema; do
  if [ ! -f "$SCHEMA_DIR/node_modules/.package-lock.json" ] ||
     [ "$SCHEMA_DIR/package-lock.json" -nt "$SCHEMA_DIR/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in $SCHEMA_DIR"
    (cd "$SCHEMA_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done

if [ "${1:-}" = "--no-build" ]; then exit 0; fi

BUILD_DIR="${CRUCIBLE_BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
# The judges' precompiled C++ headers, once per machine and compiler (judges started before
# would build them in the background instead). Not fatal: without them compiles parse.
"$BUILD_DIR/bin/crucible-judge" precompile 2>/dev/null ||
  echo "setup: precompiled headers not built; judges will parse the headers"
# The optional parts this build has (NCCL: when the CUDA toolkit and NCCL were found).
sed -n 's/^CRUCIBLE_WITH_NCCL:BOOL=\(.*\)/setup: NCCL communicator \1/p' "$BUILD_DIR/CMakeCache.txt"
