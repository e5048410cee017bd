#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests in the release build and under
# AddressSanitizer + UndefinedBehaviorSanitizer, the interop tests against independent
# implementations (pyarrow, DuckDB), then the deployment tests (Dockerfile, Kubernetes
# manifests). Exits non-zero if anything fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

./scripts/setup.sh --test-peers

echo "== release build"
./scripts/build.sh
echo "== unit tests (release)"
ctest --test-dir build --output-on-failure -j2

echo "== sanitizer build (ASan + UBSan)"
./scripts/build.sh --asan
echo "== unit tests (ASan + UBSan)"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
  LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp" \
  ctest --test-dir build-asan --output-on-failure -j2

echo "== benchmarks (smoke run: they build and run; docs/benchmarks.md has the figures)"
./build/src/convert/span_table_benchmark --benchmark_min_time=0.01 \
  --benchmark_filter='/100$' >/dev/null

echo "== test peers: the OpenTelemetry Collector peer and otap-oracle (Go; their unit tests)"
./scripts/build_otelcol.sh --test >/dev/null

echo "== interop tests (pyarrow, DuckDB, the OpenTelemetry Collector)"
OTLP_ARROW_BIN="${ROOT}/build/otlp-arrow" .deps/venv/bin/python -m pytest -q tests/interop

echo "== deployment tests (Dockerfile, Kubernetes manifests: strict schema, then against the program)"
(cd tests/deploy/k8svalidate && go test -count=1 ./...)
OTLP_ARROW_BIN="${ROOT}/build/otlp-arrow" .deps/venv/bin/python -m pytest -q tests/deploy
