#!/usr/bin/env bash
# Loopback pipeline: `otlp-arrow send` (FlightSpanExporter) → `otlp-arrow receiver`
# (FlightSpanReceiver → ParquetSpanStore → Parquet). Prints spans/s and the CPU-seconds per
# million spans of each process, read from /proc (user + system, all threads).
#
#   [DURABILITY=fsync|os] [COMPRESSION=zstd|lz4|none] \
#     scripts/bench_flight_pipeline.sh [workload=seed] [spans_per_batch=8192] [batches=50]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${OTLP_ARROW_BIN:-${ROOT}/build/otlp-arrow}"
WORKLOAD="${1:-seed}"
SPANS="${2:-8192}"
BATCHES="${3:-50}"
DURABILITY="${DURABILITY:-fsync}"
COMPRESSION="${COMPRESSION:-zstd}"
TICKS=$(getconf CLK_TCK)
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" receiver --flight "127.0.0.1:${port}" --data-dir "$DATA" --durability "$DURABILITY" \
  --health 127.0.0.1:0 --metrics 127.0.0.1:0 \
  >"$DATA/receiver.log" 2>&1 &
receiver=$!
for _ in $(seq 100); do grep -q "127.0.0.1:${port}" "$DATA/receiver.log" 2>/dev/null && break; sleep 0.1; done

start=$(date +%s.%N)
"$BIN" send --endpoint "grpc://127.0.0.1:${port}" --workload "$WORKLOAD" --spans "$SPANS" \
  --batches "$BATCHES" --compression "$COMPRESSION" >"$DATA/send.log" 2>&1 &
sender=$!
sender_ticks=0
while kill -0 "$sender" 2>/dev/null; do
  t=$(cpu_ticks "$sender" 2>/dev/null || echo "$sender_ticks"); sender_ticks=$t; sleep 0.05
done
wait "$sender"
end=$(date +%s.%N)
receiver_ticks=$(cpu_ticks "$receiver")
kill -TERM "$receiver"; wait "$receiver" || true
arrow_bytes=$(sed -n 's/.*(\([0-9]*\) Arrow bytes).*/\1/p' "$DATA/receiver.log" | tail -1)

total=$((SPANS * BATCHES))
python3 - "$total" "$start" "$end" "$sender_ticks" "$receiver_ticks" "$TICKS" "$WORKLOAD" \
  "${arrow_bytes:-0}" <<'PY'
import sys
total, start, end, s_ticks, r_ticks, hz, workload, arrow_bytes = sys.argv[1:]
total = int(total); wall = float(end) - float(start); hz = float(hz)
s_cpu, r_cpu = int(s_ticks) / hz, int(r_ticks) / hz
print(f"workload {workload}: {total} spans in {wall:.2f} s wall = {total / wall:,.0f} spans/s, "
      f"{int(arrow_bytes) / wall / 1e6:,.0f} MB/s of Arrow data (uncompressed)")
print(f"  sender   {s_cpu:.2f} CPU-s = {s_cpu / total * 1e6:.2f} CPU-s per million spans")
print(f"  receiver {r_cpu:.2f} CPU-s = {r_cpu / total * 1e6:.2f} CPU-s per million spans"
      f" ({total / r_cpu:,.0f} spans per CPU-second)" if r_cpu else "  receiver: no CPU read")
PY
tail -1 "$DATA/send.log"
