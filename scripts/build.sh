#!/usr/bin/env bash
# Configures and builds quell into build/ (Release unless told otherwise).
# Extra arguments go to the CMake configure step, e.g. -DQUELL_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QUELL_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
