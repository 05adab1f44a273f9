#!/usr/bin/env bash
# Sets up (dependencies and build) and runs the whole test suite.
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -L judge_workers
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR="${CRUCIBLE_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 --parallel "$(nproc)" "$@"
