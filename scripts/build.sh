#!/usr/bin/env bash
# Configures and builds one build folder.
#   scripts/build.sh             release build in build/ (the program is build/otlp-arrow)
#   scripts/build.sh --asan      ASan + UBSan build of the tests in build-asan/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${OTLP_ARROW_JOBS:-2}"

if [ "${1:-}" = "--asan" ]; then
  dir="${ROOT}/build-asan"
  args=(-DCMAKE_BUILD_TYPE=Debug -DOTLP_ARROW_SANITIZE=ON -DOTLP_ARROW_BUILD_BENCHMARKS=OFF)
else
  dir="${ROOT}/build"
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
if [ ! -f "${dir}/build.ninja" ]; then
  cmake -S "$ROOT" -B "$dir" -G Ninja "${args[@]}"
fi
cmake --build "$dir" -j "$JOBS"
