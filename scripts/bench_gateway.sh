#!/usr/bin/env bash
# The gateway's cost: `otlp-arrow loadgen` (OTLP) → `otlp-arrow gateway` → Flight →
# `otlp-arrow receiver` (Parquet), three processes on loopback. Prints the spans the gateway
# accepted and exported, and its CPU-seconds (user + system, all threads, from /proc) per
# million spans; the receiver's and the load generator's CPU separately.
#
#   [PROTOCOL=grpc|http] [RATE=spans/s, 0 = flat out] [DURATION=s] [CONNECTIONS=n]
#   [SPANS_PER_REQUEST=n] [COMPRESSION=zstd|lz4|none] [INPUT=file of OTLP requests]
#   scripts/bench_gateway.sh [workload=otel]
set -euo pipefail
# shellcheck source=scripts/lib/load_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/load_bench.sh"
WORKLOAD="${1:-otel}"
load_source

wait_for() {  # wait_for FILE PATTERN
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

"$BIN" receiver --flight 127.0.0.1:0 --data-dir "$DATA/data" --durability os \
  --health 127.0.0.1:0 --metrics 127.0.0.1:0 >"$DATA/receiver.log" 2>&1 &
pids+=($!); receiver=$!
wait_for "$DATA/receiver.log" "receiver listening on"
flight=$(grep -o 'grpc://[0-9.]*:[0-9]*' "$DATA/receiver.log" | head -1)

"$BIN" gateway --endpoint "$flight" --otlp-grpc 127.0.0.1:0 --otlp-http 127.0.0.1:0 \
  --health 127.0.0.1:0 --metrics 127.0.0.1:0 --compression "$COMPRESSION" \
  >"$DATA/gateway.log" 2>&1 &
pids+=($!); gateway=$!
wait_for "$DATA/gateway.log" "metrics on"
metrics=$(grep -o 'metrics on http://[0-9.:]*/metrics' "$DATA/gateway.log" | awk '{print $3}')
if [ "$PROTOCOL" = grpc ]; then
  endpoint=$(grep -o 'OTLP/gRPC listening on [0-9.:]*' "$DATA/gateway.log" | awk '{print $4}')
else
  endpoint=$(grep -o 'http://[0-9.:]*/v1/traces' "$DATA/gateway.log")
fi

g0=$(cpu_ticks "$gateway"); r0=$(cpu_ticks "$receiver")
"$BIN" loadgen --protocol "$PROTOCOL" --endpoint "$endpoint" "${LOAD_SOURCE[@]}" \
  --rate "$RATE" --duration "$DURATION" --connections "$CONNECTIONS" \
  --spans-per-request "$SPANS_PER_REQUEST" --json "$DATA/loadgen.json" >"$DATA/loadgen.log" 2>&1 &
loadgen=$!
l_ticks=0
while kill -0 "$loadgen" 2>/dev/null; do
  t=$(cpu_ticks "$loadgen" 2>/dev/null || echo "$l_ticks"); l_ticks=$t; sleep 0.1
done
wait "$loadgen" || true
# Let the last partial batch go out (flush interval 1 s), then read the counters.
accepted=$(metric "$metrics" 'otlp_arrow_otlp_spans_accepted_total')
for _ in $(seq 100); do
  exported=$(metric "$metrics" 'otlp_arrow_export_spans_total')
  [ "$exported" -ge "$accepted" ] && break; sleep 0.1
done
g1=$(cpu_ticks "$gateway"); r1=$(cpu_ticks "$receiver")
kill -TERM "$gateway"; wait "$gateway" || true
kill -TERM "$receiver"; wait "$receiver" || true

python3 - "$accepted" "$exported" "$((g1 - g0))" "$((r1 - r0))" "$l_ticks" "$TICKS" \
  "$DATA/loadgen.json" "$WORKLOAD" "$PROTOCOL" "$COMPRESSION" <<'PY'
import json, sys
accepted, exported, g, r, l, hz = map(int, sys.argv[1:7])
load = json.load(open(sys.argv[7]))
workload, protocol, compression = sys.argv[8:11]
g, r, l = g / hz, r / hz, l / hz
per_m = lambda cpu: cpu / max(accepted, 1) * 1e6
print(f"{workload} over OTLP/{protocol}, Flight {compression}: loadgen accepted "
      f"{load['spans_accepted']} spans in {load['seconds']:.1f} s = "
      f"{load['spans_per_second']:,.0f} spans/s; refused {load['refused_requests']} "
      f"requests, failed {load['failed_requests']}; latency p50 {load['latency_ms']['p50']:.2f} ms"
      f" p99 {load['latency_ms']['p99']:.2f} ms")
print(f"  gateway  accepted {accepted}, exported {exported}; {g:.2f} CPU-s = "
      f"{per_m(g):.2f} CPU-s per million spans")
print(f"  receiver {r:.2f} CPU-s = {per_m(r):.2f} CPU-s per million spans")
print(f"  loadgen  {l:.2f} CPU-s = {per_m(l):.2f} CPU-s per million spans")
PY
