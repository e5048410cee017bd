#!/usr/bin/env bash
# Fails if the link command of TARGET (in the Ninja build folder BUILD_DIR) names a
# library containing one of NAMES. The link line, not the binary's NEEDED entries: the
# linker drops a shared library nothing calls into (--as-needed), so a binary can link
# Parquet without needing it, and the next use of a storage symbol would go unnoticed.
# Keeps the gateway's pipeline and transport from bringing the Parquet store along with
# the receiver's SpanSink interface.
set -euo pipefail
ninja="${1:?usage: check_link_line.sh NINJA BUILD_DIR TARGET NAME...}"
build_dir="${2:?}"
target="${3:?}"
shift 3
link=$("$ninja" -C "$build_dir" -t commands "$target" | tail -n 1)
case "$link" in
  *" -o "*) ;;
  *) echo "FAIL: no link command for $target"; exit 1 ;;
esac
status=0
for name in "$@"; do
  if grep -o -- "[^ ]*${name}[^ ]*" <<<"$link"; then
    echo "FAIL: $target links the above (*${name}*)"
    status=1
  fi
done
[ $status -eq 0 ] && echo "ok: the link line of $target names none of: $*"
exit $status
