#!/usr/bin/env bash
# Fails if the libarrow in use exports opentelemetry::proto:: symbols. pyarrow >= 24 bundles
# opentelemetry-cpp into libarrow.so; its generated OTLP classes would have the same mangled names
# as ours and bind Arrow's code to classes compiled against another protobuf.
set -euo pipefail
libdir="${1:?usage: check_arrow_symbols.sh ARROW_LIB_DIR}"
status=0
found=0
for lib in "$libdir"/libarrow*.so.* "$libdir"/libparquet.so.*; do
  [ -e "$lib" ] || continue
  found=$((found + 1))
  n=$(nm -D --defined-only -C "$lib" | grep -c 'opentelemetry::proto::' || true)
  if [ "$n" -ne 0 ]; then
    echo "FAIL: $(basename "$lib") exports $n opentelemetry::proto:: symbols"
    status=1
  else
    echo "ok: $(basename "$lib") exports no opentelemetry::proto:: symbols"
  fi
done
if [ "$found" -eq 0 ]; then
  echo "FAIL: no Arrow libraries in $libdir"
  exit 1
fi
exit $status
