# shellcheck shell=bash disable=SC2034  # the sourcing script uses these
# Shared by scripts/bench_gateway.sh and scripts/bench_collector.sh (sourced, not run): the load's
# settings from the environment, a scratch folder and the processes to kill on exit, and the
# helpers that read CPU time and Prometheus counters.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${OTLP_ARROW_BIN:-${ROOT}/build/otlp-arrow}"
PROTOCOL="${PROTOCOL:-grpc}"
RATE="${RATE:-0}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-4}"
SPANS_PER_REQUEST="${SPANS_PER_REQUEST:-512}"
COMPRESSION="${COMPRESSION:-zstd}"
# INPUT=FILE: replay this file of OTLP requests (`loadgen --input`, e.g.
# tests/fixtures/real/real_traces.binpb.zst), cut into SPANS_PER_REQUEST-span requests, instead
# of the workload.
INPUT="${INPUT:-}"
# load_source: LOAD_SOURCE = loadgen's arguments for INPUT or WORKLOAD; WORKLOAD = what to print.
load_source() {
  if [ -n "$INPUT" ]; then
    LOAD_SOURCE=(--input "$INPUT"); WORKLOAD="$(basename "$INPUT")"
  else
    LOAD_SOURCE=(--workload "$WORKLOAD")
  fi
}
TICKS=$(getconf CLK_TCK)
DATA="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system ticks of PID
metric() {  # metric URL NAME-REGEX → sum of matching samples
  curl -s "$1" | awk -v re="^$2" '$0 ~ re {s += $NF} END {printf "%d\n", s}'
}
