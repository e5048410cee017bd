#!/usr/bin/env bash
# Builds the OpenTelemetry Collector peer (tests/peers/otelcol: core v0.148.0 / v1.54.0, contrib
# v0.148.0, pinned by its go.mod and go.sum) into .deps/otelcol/otelcol-peer and, from the same
# module, the OTAP oracle (tests/peers/otelcol/cmd/otap-oracle) into .deps/otelcol/otap-oracle,
# and prints the Collector's path. Skips the build when both binaries are there and neither the
# sources nor the Go version changed. The module cache and the build cache go under .deps/go
# (unless GOMODCACHE / GOCACHE are set); the first build downloads about 130 MB of modules from the
# Go module proxy and takes about 3 minutes on 2 cores.
#
#   scripts/build_otelcol.sh           build (or find up to date)
#   scripts/build_otelcol.sh --test    and run the Go unit tests of both (go test)
set -euo pipefail
run_tests=0
case "${1:-}" in
  --test) run_tests=1 ;;
  "") ;;
  *) echo "build_otelcol.sh: unknown argument: $1" >&2; exit 2 ;;
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${ROOT}/tests/peers/otelcol"
OUT="${ROOT}/.deps/otelcol"
BIN="${OUT}/otelcol-peer"
ORACLE="${OUT}/otap-oracle"

if ! command -v go >/dev/null; then
  echo "build_otelcol.sh: go (the version in ${SRC}/go.mod or later) is needed" >&2
  exit 1
fi
export GOPATH="${ROOT}/.deps/go"
export GOMODCACHE="${GOMODCACHE:-${GOPATH}/pkg/mod}"
export GOCACHE="${GOCACHE:-${GOPATH}/cache}"
# go.sum is complete: take exactly what it pins, never rewrite go.mod; writable module cache so
# that `rm -rf .deps` works; the machine's own Go, no toolchain download.
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
export GOTOOLCHAIN=local

stamp="$(cd "$SRC" && { go version; cat go.mod go.sum ./*.go ./cmd/otap-oracle/*.go; } | sha256sum | cut -d' ' -f1)"
go_tests() {
  if ((run_tests)); then
    echo "build_otelcol.sh: go test ./... in ${SRC}" >&2
    (cd "$SRC" && go test -p "$(nproc)" -count=1 ./... >&2)
  fi
}
if [ -x "$BIN" ] && [ -x "$ORACLE" ] && [ -f "${BIN}.stamp" ] && [ "$(cat "${BIN}.stamp")" = "$stamp" ]; then
  echo "build_otelcol.sh: up to date" >&2
  go_tests
  echo "$BIN"
  exit 0
fi

mkdir -p "$OUT"
echo "build_otelcol.sh: go build in ${SRC} (module cache ${GOMODCACHE})" >&2
start=$(date +%s)
(cd "$SRC" && go build -p "$(nproc)" -trimpath -o "${BIN}.tmp" . &&
  go build -p "$(nproc)" -trimpath -o "${ORACLE}.tmp" ./cmd/otap-oracle)
mv "${BIN}.tmp" "$BIN"
mv "${ORACLE}.tmp" "$ORACLE"
echo "$stamp" >"${BIN}.stamp"
echo "build_otelcol.sh: built in $(($(date +%s) - start)) s" >&2
go_tests
echo "$BIN"
