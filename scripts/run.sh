#!/usr/bin/env bash
# The main job on a fresh machine: install, build, and run otlp-arrow on its embedded defaults.
# Extra arguments go to the program (default: `all-in-one`: OTLP in on 4317/4318, Parquet
# under ./data; Ctrl-C drains and exits).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"${ROOT}/scripts/setup.sh"
"${ROOT}/scripts/build.sh"
if [ "$#" -eq 0 ]; then set -- all-in-one; fi
exec "${ROOT}/build/otlp-arrow" "$@"
