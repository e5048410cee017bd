#!/usr/bin/env bash
# The main job on a fresh machine: install, build, and run otlp-arrow on its embedded defaults.
# Extra arguments go to the program (default: the demo, data under ./data).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"${ROOT}/scripts/setup.sh"
"${ROOT}/scripts/build.sh"
if [ "$#" -eq 0 ]; then set -- demo; fi
exec "${ROOT}/build/otlp-arrow" "$@"
