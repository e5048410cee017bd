#!/usr/bin/env bash
# The OpenTelemetry Collector's cost under the same load as scripts/bench_gateway.sh: `otlp-arrow
# loadgen` (OTLP) → the Collector peer of tests/peers/otelcol (core v0.148.0, contrib v0.148.0;
# built by scripts/build_otelcol.sh), on loopback, in two setups one after the other:
#
#   (a) floor:    collector A: otlp receiver → batch → nop exporter
#   (b) gateway:  collector A: otlp receiver → batch → otelarrowlite exporter (OTel-Arrow, zstd)
#                 → collector B: otelarrow receiver → nop exporter
#
# (b) is the Collector doing our gateway's job: OTLP in, Arrow out with zstd. The contrib
# otelarrow exporter is not to be had from the Go module proxy here, so A uses otelarrowlite, the
# stand-in in tests/peers/otelcol/arrowexporter.go: the same otel-arrow Arrow producer and
# ArrowTracesService stream, with the contrib exporter's defaults (Arrow IPC payload zstd plus
# gRPC zstd level 5, max(1, NumCPU/2) streams, exporterhelper queue batching 1000..1500 spans).
#
# The configs (written into a temp dir): batch processor send_batch_size 8192, timeout 200ms;
# exporter `tls: insecure` and, in (b), `sending_queue: batch: enabled: false`, so that the batch
# processor is the only batcher as in (a) (with the exporter's own batcher too, min 1000 / max 1500
# spans, flush 1 s, and wait_for_result, each 8192-span batch leaves a remainder that waits the
# full second while the batch processor waits on it: loadgen got 6.7k of 20k spans/s through);
# every other component setting at its default. The Collector's own
# telemetry: logs at warn, metrics at level basic on a Prometheus pull endpoint on a free
# 127.0.0.1 port (read for the span counts), no traces. COMPRESSION=none turns off both zstd
# layers of the Arrow exporter; ARROW_STREAMS sets its arrow.num_streams (default max(1,
# NumCPU/2), 1 here: one goroutine encodes all Arrow batches) and ARROW_WAIT_FOR_RESULT its
# sending_queue.wait_for_result (default true: the batch processor waits for each export).
#
# Prints per setup the spans the loadgen got accepted, each collector's accepted / exported spans
# (from its own metrics), its CPU-seconds (user + system, all threads, from /proc) per million
# spans, and the loadgen's.
#
# Mode `otap` (RATE 40000 spans/s unless set): the receiving end of OTAP side by side, one after
# the other in one run, each fed by the same collector A (setup (b) above: otlp → batch →
# otelarrowlite, whose Arrow stream goes to the one port under test):
#
#   (a) the Collector's otelarrow receiver → nop exporter (collector B)
#   (b) `otlp-arrow gateway`: OTAP on its OTLP/gRPC port → export queue → Flight → `otlp-arrow
#       receiver` (durability os); the gateway's CPU alone is (b), the receiver's is shown apart
#   (c) `otlp-arrow all-in-one`: OTAP → queue → Parquet (durability os), the whole process
#
# and prints each one's CPU-seconds per million spans (denominator: the spans collector A
# exported, i.e. that the receiving end acknowledged), with (b) / (a) against the target 1/4.
#
#   [PROTOCOL=grpc|http] [RATE=spans/s, 0 = flat out] [DURATION=s] [CONNECTIONS=n]
#   [SPANS_PER_REQUEST=n] [COMPRESSION=zstd|none] [ARROW_STREAMS=n] [ARROW_WAIT_FOR_RESULT=bool]
#   [OTELCOL_BIN=path] [INPUT=file of OTLP requests]
#   scripts/bench_collector.sh [collector|otap] [workload=otel]
set -euo pipefail
MODE=collector
case "${1:-}" in
  collector|otap) MODE=$1; shift ;;
esac
if [ "$MODE" = otap ]; then
  RATE="${RATE:-40000}"
fi
# shellcheck source=scripts/lib/load_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/load_bench.sh"
WORKLOAD="${1:-otel}"
load_source
OTELCOL="${OTELCOL_BIN:-${ROOT}/.deps/otelcol/otelcol-peer}"

if [ -z "${OTELCOL_BIN:-}" ]; then
  "${ROOT}/scripts/build_otelcol.sh" >/dev/null  # builds once, then only checks its stamp
fi
# Extra settings of the Arrow exporter, from COMPRESSION, ARROW_STREAMS, ARROW_WAIT_FOR_RESULT.
arrow_top="" arrow_block="" queue_block=""
case "$COMPRESSION" in
  zstd) ;;
  none) arrow_top=$'\n    compression: none'; arrow_block=$'\n      payload_compression: none' ;;
  *) echo "bench_collector.sh: COMPRESSION is zstd or none" >&2; exit 1 ;;
esac
# Never downgrade to plain OTLP: an endpoint without OTAP must show, not be measured as OTLP.
arrow_block+=$'\n'"      disable_downgrade: true"
[ -z "${ARROW_STREAMS:-}" ] || arrow_block+=$'\n'"      num_streams: ${ARROW_STREAMS}"
[ -z "${ARROW_WAIT_FOR_RESULT:-}" ] || queue_block=$'\n'"      wait_for_result: ${ARROW_WAIT_FOR_RESULT}"
[ -z "$arrow_block" ] || arrow_block=$'\n    arrow:'"$arrow_block"

wait_port() {  # wait_port PORT LOG: until something listens on 127.0.0.1:PORT
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1
  done
  echo "timed out waiting for 127.0.0.1:$1" >&2; cat "$2" >&2; exit 1
}
# Free 127.0.0.1 ports, all bound at once so that they differ.
read -r P_GRPC P_HTTP P_METRICS_A P_ARROW P_METRICS_B P_FLIGHT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
if [ "$PROTOCOL" = grpc ]; then
  endpoint="127.0.0.1:${P_GRPC}"
else
  endpoint="http://127.0.0.1:${P_HTTP}/v1/traces"
fi

telemetry() {  # telemetry METRICS-PORT
  cat <<EOF
  telemetry:
    logs:
      level: warn
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: $1
EOF
}
collector_a() {  # collector_a EXPORTER-YAML EXPORTER-NAME
  cat <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${P_GRPC}
      http:
        endpoint: 127.0.0.1:${P_HTTP}
processors:
  batch:
    send_batch_size: 8192
    timeout: 200ms
exporters:
$1
service:
$(telemetry "$P_METRICS_A")
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [$2]
EOF
}
collector_a $'  nop:' nop >"$DATA/a-nop.yaml"
collector_a "  otelarrowlite:
    endpoint: 127.0.0.1:${P_ARROW}
    tls:
      insecure: true${arrow_top}${arrow_block}
    sending_queue:${queue_block}
      batch:
        enabled: false" otelarrowlite >"$DATA/a-arrow.yaml"
cat >"$DATA/b.yaml" <<EOF
receivers:
  otelarrow:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${P_ARROW}
exporters:
  nop:
service:
$(telemetry "$P_METRICS_B")
  pipelines:
    traces:
      receivers: [otelarrow]
      exporters: [nop]
EOF

# run_setup NAME A-CONFIG WITH-B(0|1): prints one result block.
run_setup() {
  local name=$1 config=$2 with_b=$3 b="" b0=0 b1=0 a a0 a1 loadgen l_ticks t
  local metrics_a="http://127.0.0.1:${P_METRICS_A}/metrics"
  local metrics_b="http://127.0.0.1:${P_METRICS_B}/metrics"
  local accepted exported=-1 b_accepted=-1
  if [ "$with_b" = 1 ]; then
    "$OTELCOL" --config "$DATA/b.yaml" >"$DATA/$name-b.log" 2>&1 &
    b=$!; pids+=("$b")
    wait_port "$P_ARROW" "$DATA/$name-b.log"; wait_port "$P_METRICS_B" "$DATA/$name-b.log"
  fi
  "$OTELCOL" --config "$config" >"$DATA/$name-a.log" 2>&1 &
  a=$!; pids+=("$a")
  wait_port "$P_GRPC" "$DATA/$name-a.log"; wait_port "$P_HTTP" "$DATA/$name-a.log"
  wait_port "$P_METRICS_A" "$DATA/$name-a.log"
  sleep 0.5  # let the Arrow stream open

  a0=$(cpu_ticks "$a"); [ -z "$b" ] || b0=$(cpu_ticks "$b")
  "$BIN" loadgen --protocol "$PROTOCOL" --endpoint "$endpoint" "${LOAD_SOURCE[@]}" \
    --rate "$RATE" --duration "$DURATION" --connections "$CONNECTIONS" \
    --spans-per-request "$SPANS_PER_REQUEST" --json "$DATA/$name-loadgen.json" \
    >"$DATA/$name-loadgen.log" 2>&1 &
  loadgen=$!
  l_ticks=0
  while kill -0 "$loadgen" 2>/dev/null; do
    t=$(cpu_ticks "$loadgen" 2>/dev/null || echo "$l_ticks"); l_ticks=$t; sleep 0.1
  done
  wait "$loadgen" || { cat "$DATA/$name-loadgen.log" >&2; exit 1; }
  # Let the last batch out (batch timeout 200 ms, exporter batch flush 1 s), then read the counters.
  accepted=$(metric "$metrics_a" 'otelcol_receiver_accepted_spans')
  if [ -n "$b" ]; then
    for _ in $(seq 100); do
      exported=$(metric "$metrics_a" 'otelcol_exporter_sent_spans')
      b_accepted=$(metric "$metrics_b" 'otelcol_receiver_accepted_spans')
      [ "$exported" -ge "$accepted" ] && [ "$b_accepted" -ge "$accepted" ] && break; sleep 0.1
    done
  else
    sleep 0.5
  fi
  a1=$(cpu_ticks "$a"); [ -z "$b" ] || b1=$(cpu_ticks "$b")
  kill -TERM "$a"; wait "$a" || true
  if [ -n "$b" ]; then kill -TERM "$b"; wait "$b" || true; fi
  pids=()
  local errors=$'\t(error|dpanic|panic|fatal)\t|^panic:'
  if grep -q -E "$errors" "$DATA/$name-a.log" ${b:+"$DATA/$name-b.log"}; then
    echo "bench_collector.sh: errors in the collector logs of setup $name:" >&2
    grep -h -E "$errors" "$DATA/$name-a.log" ${b:+"$DATA/$name-b.log"} | head -5 >&2
  fi

  python3 - "$accepted" "$exported" "$b_accepted" "$((a1 - a0))" "$((b1 - b0))" "$l_ticks" \
    "$TICKS" "$DATA/$name-loadgen.json" "$WORKLOAD" "$PROTOCOL" "$COMPRESSION" "$name" <<'PY'
import json, sys
accepted, exported, b_accepted, a, b, l, hz = map(int, sys.argv[1:8])
load = json.load(open(sys.argv[8]))
workload, protocol, compression, name = sys.argv[9:13]
a, b, l = a / hz, b / hz, l / hz
per_m = lambda cpu: cpu / max(accepted, 1) * 1e6
if name == "nop":
    what = "Collector otlp → batch → nop"
else:
    what = f"Collector otlp → batch → otelarrowlite ({compression}) → otelarrow → nop"
print(f"{workload} over OTLP/{protocol}, {what}: loadgen accepted "
      f"{load['spans_accepted']} spans in {load['seconds']:.1f} s = "
      f"{load['spans_per_second']:,.0f} spans/s; refused {load['refused_requests']} "
      f"requests, failed {load['failed_requests']}; latency p50 {load['latency_ms']['p50']:.2f} ms"
      f" p99 {load['latency_ms']['p99']:.2f} ms")
if name == "nop":
    print(f"  collector   accepted {accepted}; {a:.2f} CPU-s = "
          f"{per_m(a):.2f} CPU-s per million spans")
else:
    print(f"  collector A accepted {accepted}, exported {exported}; {a:.2f} CPU-s = "
          f"{per_m(a):.2f} CPU-s per million spans")
    print(f"  collector B accepted {b_accepted}; {b:.2f} CPU-s = "
          f"{per_m(b):.2f} CPU-s per million spans")
    print(f"  A + B       {a + b:.2f} CPU-s = {per_m(a + b):.2f} CPU-s per million spans")
print(f"  loadgen     {l:.2f} CPU-s = {per_m(l):.2f} CPU-s per million spans")
PY
}

stop_pid() {  # stop_pid PID: SIGTERM, then SIGKILL after 10 s (a Collector whose exporter keeps
  # retrying an endpoint that refuses it takes minutes to shut down)
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# run_load CONFIG-A LOG-PREFIX: collector A with CONFIG-A, the loadgen into it, until A has
# exported what it accepted (at most 10 s after the load). Sets a_pid (still running), accepted,
# exported and l_ticks. Callers read the CPU of the receiving end around it.
run_load() {
  local config=$1 name=$2 loadgen t
  "$OTELCOL" --config "$config" >"$DATA/$name-a.log" 2>&1 &
  a_pid=$!; pids+=("$a_pid")
  wait_port "$P_GRPC" "$DATA/$name-a.log"; wait_port "$P_HTTP" "$DATA/$name-a.log"
  wait_port "$P_METRICS_A" "$DATA/$name-a.log"
  sleep 0.5  # let the Arrow stream open
  "$BIN" loadgen --protocol "$PROTOCOL" --endpoint "$endpoint" "${LOAD_SOURCE[@]}" \
    --rate "$RATE" --duration "$DURATION" --connections "$CONNECTIONS" \
    --spans-per-request "$SPANS_PER_REQUEST" --json "$DATA/$name-loadgen.json" \
    >"$DATA/$name-loadgen.log" 2>&1 &
  loadgen=$!
  l_ticks=0
  while kill -0 "$loadgen" 2>/dev/null; do
    t=$(cpu_ticks "$loadgen" 2>/dev/null || echo "$l_ticks"); l_ticks=$t; sleep 0.1
  done
  if ! wait "$loadgen"; then  # shown, and the figures still printed: the end under test refused
    echo "bench_collector.sh: $name: the loadgen failed:" >&2; tail -4 "$DATA/$name-loadgen.log" >&2
  fi
  accepted=$(metric "http://127.0.0.1:${P_METRICS_A}/metrics" 'otelcol_receiver_accepted_spans')
  for _ in $(seq 100); do
    exported=$(metric "http://127.0.0.1:${P_METRICS_A}/metrics" 'otelcol_exporter_sent_spans')
    [ "$exported" -ge "$accepted" ] && break; sleep 0.1
  done
}

# run_otap SETUP: one receiving end (collector-b | gateway | all-in-one) on P_ARROW, fed by
# collector A; prints one tab-separated line: setup, spans exported by A, CPU ticks of the
# receiving end (of the gateway alone for `gateway`), of otlp-arrow's Flight receiver behind
# the gateway, of A, of the loadgen.
run_otap() {
  local setup=$1 main other="" m0 m1 o0=0 o1=0 a0 a1
  case "$setup" in
    collector-b)
      "$OTELCOL" --config "$DATA/b.yaml" >"$DATA/otap-$setup.log" 2>&1 & main=$! ;;
    gateway)
      "$BIN" receiver --flight "127.0.0.1:${P_FLIGHT}" --data-dir "$DATA/otap-gateway-data" \
        --durability os --health 127.0.0.1:0 --metrics 127.0.0.1:0 \
        >"$DATA/otap-receiver.log" 2>&1 & other=$!
      pids+=("$other")
      wait_port "$P_FLIGHT" "$DATA/otap-receiver.log"
      "$BIN" gateway --endpoint "grpc://127.0.0.1:${P_FLIGHT}" --otlp-grpc "127.0.0.1:${P_ARROW}" \
        --otlp-http 127.0.0.1:0 --health 127.0.0.1:0 --metrics 127.0.0.1:0 \
        >"$DATA/otap-$setup.log" 2>&1 & main=$! ;;
    all-in-one)
      "$BIN" all-in-one --otlp-grpc "127.0.0.1:${P_ARROW}" --otlp-http 127.0.0.1:0 \
        --flight 127.0.0.1:0 --health 127.0.0.1:0 --metrics 127.0.0.1:0 \
        --data-dir "$DATA/otap-all-in-one-data" --durability os \
        >"$DATA/otap-$setup.log" 2>&1 & main=$! ;;
  esac
  pids+=("$main")
  wait_port "$P_ARROW" "$DATA/otap-$setup.log"
  m0=$(cpu_ticks "$main"); [ -z "$other" ] || o0=$(cpu_ticks "$other")
  run_load "$DATA/a-arrow.yaml" "otap-$setup"
  a0=0; a1=$(cpu_ticks "$a_pid")  # A started inside run_load: all of its CPU
  m1=$(cpu_ticks "$main"); [ -z "$other" ] || o1=$(cpu_ticks "$other")
  stop_pid "$a_pid"
  stop_pid "$main"
  [ -z "$other" ] || stop_pid "$other"
  pids=()
  if [ "$exported" -lt "$accepted" ]; then
    echo "bench_collector.sh: otap $setup: collector A exported $exported of $accepted spans" \
      "(its log: the last lines)" >&2
    tail -5 "$DATA/otap-$setup-a.log" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$exported" "$((m1 - m0))" "$((o1 - o0))" \
    "$((a1 - a0))" "$l_ticks" "$DATA/otap-$setup-loadgen.json"
}

if [ "$MODE" = otap ]; then
  {
    run_otap collector-b
    run_otap gateway
    run_otap all-in-one
  } >"$DATA/otap.tsv"
  python3 - "$DATA/otap.tsv" "$TICKS" "$WORKLOAD" "$PROTOCOL" "$COMPRESSION" "$RATE" <<'PY'
import json, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
hz = int(sys.argv[2])
workload, protocol, compression, rate = sys.argv[3:7]
names = {"collector-b": "(a) Collector: otelarrow receiver → nop",
         "gateway": "(b) otlp-arrow gateway: OTAP → queue → Flight (gateway alone)",
         "all-in-one": "(c) otlp-arrow all-in-one: OTAP → Parquet"}
print(f"OTAP receivers, {workload} workload, loadgen → OTLP/{protocol} at {rate} spans/s → "
      f"collector A otlp → batch → otelarrowlite ({compression})")
per_m = {}
for setup, exported, main, other, a, l, load_json in rows:
    exported = int(exported)
    load = json.load(open(load_json))
    cpu = lambda ticks: int(ticks) / hz
    per = lambda ticks: cpu(ticks) / max(exported, 1) * 1e6
    if exported == 0:
        print(f"  {names[setup]}: no span acknowledged (see the messages above)")
        continue
    per_m[setup] = per(main)
    print(f"  {names[setup]}: {per(main):.2f} CPU-s per million spans "
          f"({cpu(main):.2f} CPU-s, {exported} spans acknowledged; loadgen sent "
          f"{load['spans_accepted']} at {load['spans_per_second']:,.0f} spans/s)")
    if setup == "gateway":
        print(f"      its Flight receiver (otlp-arrow receiver → Parquet): {per(other):.2f} CPU-s "
              f"per million spans")
    print(f"      collector A {per(a):.2f}, loadgen {per(l):.2f} CPU-s per million spans")
if per_m.get("collector-b") and "gateway" in per_m:
    ratio = per_m["gateway"] / per_m["collector-b"]
    print(f"  (b) / (a) = {ratio:.3f} (target ≤ 0.25: {'met' if ratio <= 0.25 else 'missed'})")
PY
  exit 0
fi

run_setup nop "$DATA/a-nop.yaml" 0
run_setup arrow "$DATA/a-arrow.yaml" 1
