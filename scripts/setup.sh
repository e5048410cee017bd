#!/usr/bin/env bash
# Installs everything otlp-arrow needs to build, run and test. Idempotent: a second run only checks.
#
#   scripts/setup.sh              Debian packages + Arrow C++ from the pinned pyarrow wheel
#   scripts/setup.sh --test-peers also the test peers: Python (pyarrow, DuckDB, pytest, …) in
#                                 .deps/venv, Node.js (tests/interop/node), Go modules
#                                 (tests/deploy/k8svalidate)
#
# Arrow C++: Debian 12 has no Arrow packages, so the headers and shared libraries come from the
# pyarrow manylinux_2_28 wheel (new C++ ABI, like Debian's g++ 12), pinned by version and sha256.
# pip is only the download client; nothing needs Python at run time. pyarrow 24+ is excluded on
# purpose: its libarrow exports opentelemetry-cpp symbols that collide with our OTLP classes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="${ROOT}/.deps"
PYARROW_VERSION="23.0.1"
PYARROW_WHEEL="pyarrow-${PYARROW_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"
PYARROW_SHA256="26d50dee49d741ac0e82185033488d28d35be4d763ae6f321f97d1140eb7a0e9"
ARROW_SO_VERSION="2300"
ARROW_PREFIX="${DEPS}/arrow"
VENV="${DEPS}/venv"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache unzip
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libzstd-dev zlib1g-dev libssl-dev libcpp-httplib-dev libboost-dev libnghttp2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format python3-venv python3-pip
)
# Test peers from Debian: debootstrap and iproute2 for the emulation of the Dockerfile's runtime
# stage (tests/deploy/image_emulation.py).
TEST_APT_PACKAGES=(debootstrap iproute2 openssl)
# Test peers, pinned. pyarrow is installed from the same hash-checked wheel as the C++ libraries.
PY_TEST_PACKAGES=("duckdb==1.4.4" "pytest==8.4.2" "prometheus-client==0.26.0" "opentelemetry-api==1.45.2" "opentelemetry-sdk==1.45.2" "opentelemetry-exporter-otlp-proto-grpc==1.45.2" "opentelemetry-exporter-otlp-proto-http==1.45.2" "PyYAML==6.0.3"
  "opentelemetry-instrumentation-flask==0.66b2" "opentelemetry-instrumentation-requests==0.66b2"
  "opentelemetry-instrumentation-urllib3==0.66b2" "opentelemetry-instrumentation-sqlite3==0.66b2"
  "flask==3.1.3" "werkzeug==3.1.9" "requests==2.34.2" "urllib3==2.8.0" "zstandard==0.25.0")

want_test_peers=0
for arg in "$@"; do
  case "$arg" in
    --test-peers) want_test_peers=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*"; }

install_apt_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "Debian packages: all present"
    return
  fi
  log "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

fetch_wheel() {
  local cache="${DEPS}/cache"
  local wheel="${cache}/${PYARROW_WHEEL}"
  mkdir -p "$cache"
  if [ ! -f "$wheel" ] || ! echo "${PYARROW_SHA256}  ${wheel}" | sha256sum -c --status; then
    log "downloading ${PYARROW_WHEEL}"
    rm -f "$wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
      -d "$cache" "pyarrow==${PYARROW_VERSION}"
  fi
  if ! echo "${PYARROW_SHA256}  ${wheel}" | sha256sum -c --status; then
    echo "setup.sh: sha256 mismatch for ${wheel}; refusing to use it" >&2
    exit 1
  fi
  WHEEL_PATH="$wheel"
}

install_arrow() {
  local stamp="${ARROW_PREFIX}/.installed"
  local want="pyarrow ${PYARROW_VERSION} ${PYARROW_SHA256}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "Arrow C++ ${PYARROW_VERSION}: present in ${ARROW_PREFIX}"
    return
  fi
  fetch_wheel
  log "unpacking Arrow C++ headers and libraries into ${ARROW_PREFIX}"
  local tmp
  tmp="$(mktemp -d)"
  unzip -q "$WHEEL_PATH" 'pyarrow/include/*' "pyarrow/lib*.so.${ARROW_SO_VERSION}" -d "$tmp"
  rm -rf "$ARROW_PREFIX"
  mkdir -p "${ARROW_PREFIX}/lib"
  mv "${tmp}/pyarrow/include" "${ARROW_PREFIX}/include"
  for so in "${tmp}"/pyarrow/lib*.so."${ARROW_SO_VERSION}"; do
    local base
    base="$(basename "$so")"
    # libarrow_python* link libpython; the C++ programs never use them.
    case "$base" in libarrow_python*) continue ;; esac
    mv "$so" "${ARROW_PREFIX}/lib/${base}"
    ln -sf "${base}" "${ARROW_PREFIX}/lib/${base%.${ARROW_SO_VERSION}}"
  done
  rm -rf "$tmp"
  echo "$want" >"$stamp"
}

install_test_peers() {
  local stamp="${VENV}/.installed"
  local want="pyarrow==${PYARROW_VERSION} ${PY_TEST_PACKAGES[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "Python test peers: present in ${VENV}"
    return
  fi
  fetch_wheel
  log "Python test peers: installing ${want}"
  python3 -m venv "$VENV"
  "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$WHEEL_PATH" "${PY_TEST_PACKAGES[@]}"
  echo "$want" >"$stamp"
}

# The OpenTelemetry Node.js SDK of tests/interop/test_sdk_node.py, pinned by its package-lock.json.
install_node_test_peers() {
  local dir="${ROOT}/tests/interop/node"
  local stamp="${dir}/node_modules/.otlp-arrow-installed"
  if ! command -v npm >/dev/null; then
    echo "setup.sh: npm (Node.js >= 20) is needed for the Node.js test peers" >&2
    exit 1
  fi
  local want
  want="$(node --version) $(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "Node.js test peers: present in ${dir}/node_modules"
    return
  fi
  log "Node.js test peers: npm ci in ${dir}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# The Go modules of tests/deploy/k8svalidate (Kubernetes API types, kustomize), pinned by its
# go.mod and go.sum, into the Go module cache, so that its tests need no network.
install_go_test_peers() {
  local dir="${ROOT}/tests/deploy/k8svalidate"
  if ! command -v go >/dev/null; then
    echo "setup.sh: go (the version in ${dir}/go.mod or later) is needed for the Go test peers" >&2
    exit 1
  fi
  # Quick and offline when the cache already holds them; go.sum checks what it downloads.
  log "Go test peers: go mod download in ${dir}"
  (cd "$dir" && go mod download)
}

# A Debian 12 minbase root file system (what debian:bookworm-slim is made from), in which the
# deployment tests carry out the Dockerfile's runtime stage: no Docker engine needed.
install_image_rootfs() {
  local dir="${DEPS}/debian-12-minbase"
  local want="debootstrap --variant=minbase bookworm"
  if [ -f "${dir}.installed" ] && [ "$(cat "${dir}.installed")" = "$want" ]; then
    log "Debian 12 root file system: present in ${dir}"
    return
  fi
  log "Debian 12 root file system: ${want} ${dir}"
  rm -rf "$dir" "${dir}.installed"
  mkdir -p "$DEPS"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo debootstrap --variant=minbase bookworm "$dir" >"${DEPS}/debootstrap.log" 2>&1 || {
    tail -20 "${DEPS}/debootstrap.log" >&2
    echo "setup.sh: debootstrap failed (log: ${DEPS}/debootstrap.log)" >&2
    exit 1
  }
  # The package sources of this machine (bookworm, its updates and security), as the image's.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    $sudo cp /etc/apt/sources.list.d/debian.sources "${dir}/etc/apt/sources.list.d/"
    $sudo rm -f "${dir}/etc/apt/sources.list"
  fi
  echo "$want" >"${dir}.installed"
}

install_apt_packages "${APT_PACKAGES[@]}"
install_arrow
if ((want_test_peers)); then
  install_apt_packages "${TEST_APT_PACKAGES[@]}"
  install_image_rootfs
  install_test_peers
  install_node_test_peers
  install_go_test_peers
fi
log "done"
