#!/usr/bin/env bash
# Sets up (dependencies and build) and runs the main job on the built-in default.
#   scripts/run.sh [crucible run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${CRUCIBLE_BUILD_DIR:-build}/bin/crucible" run "$@"
