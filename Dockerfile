# syntax=docker/dockerfile:1
# otlp-arrow in a container: build with the project's own scripts, run on Debian 12 slim.
#
#   docker build -t otlp-arrow:0.1.0 .
#   docker run --rm -p 4317:4317 -p 4318:4318 -p 8080:8080 -p 9090:9090 \
#     -v otlp-arrow-data:/var/lib/otlp-arrow otlp-arrow:0.1.0            # all-in-one
#   docker run --rm otlp-arrow:0.1.0 gateway --help
#
# See docs/operations.md. The base image is pinned by its Debian 12 tag; pin it by digest
# with --build-arg DEBIAN_IMAGE=debian:bookworm-slim@sha256:<digest>.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------
# Builder: the same scripts as the README's quick start and CI (.ci/run → scripts/test.sh):
# scripts/setup.sh installs the Debian packages and Arrow C++ (the pinned pyarrow wheel,
# checked by SHA-256) into .deps/; scripts/build.sh builds build/otlp-arrow.
FROM ${DEBIAN_IMAGE} AS builder
ARG JOBS=2
WORKDIR /src
# The set-up script alone first, so that its layer (packages, Arrow) survives source edits.
COPY scripts/setup.sh scripts/setup.sh
RUN ./scripts/setup.sh
COPY . .
RUN --mount=type=cache,target=/root/.cache/ccache \
    OTLP_ARROW_JOBS="${JOBS}" ./scripts/build.sh
# What the runtime stage takes: the program without its debug sections, and the Arrow
# libraries it links (ldd build/otlp-arrow; a test checks this list against ldd).
RUN mkdir -p /out/bin /out/lib \
 && strip --strip-debug -o /out/bin/otlp-arrow build/otlp-arrow \
 && cp .deps/arrow/lib/libarrow.so.2300 .deps/arrow/lib/libarrow_flight.so.2300 \
       .deps/arrow/lib/libparquet.so.2300 /out/lib/ \
 && /out/bin/otlp-arrow --version

# ---------------------------------------------------------------------------------------
# Runtime: Debian 12 slim, the shared libraries the program links (Debian's gRPC, protobuf,
# yaml-cpp, spdlog, fmt, cpp-httplib, OpenSSL, zlib, Abseil, nghttp2; a test maps every library
# `ldd build/otlp-arrow` resolves to these packages), the Arrow libraries and the binary.
FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcpp-httplib0.11 \
      libfmt9 \
      libgrpc++1.51 \
      libgrpc29 \
      libnghttp2-14 \
      libprotobuf32 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out/lib/ /usr/local/lib/otlp-arrow/
COPY --from=builder /out/bin/otlp-arrow /usr/local/bin/otlp-arrow
# The program's RUNPATH names the builder's .deps/arrow/lib; the dynamic loader finds the
# Arrow libraries here instead.
RUN echo /usr/local/lib/otlp-arrow > /etc/ld.so.conf.d/otlp-arrow.conf && ldconfig \
 && groupadd --gid 10001 otlp-arrow \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/otlp-arrow \
      --shell /usr/sbin/nologin otlp-arrow \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/otlp-arrow \
 && otlp-arrow --version
# Listen on all interfaces (the program's defaults are 127.0.0.1); a ConfigMap mounted at
# /etc/otlp-arrow replaces this file.
COPY deploy/docker/config.yaml /etc/otlp-arrow/config.yaml

# The design document's variables (docs/configuration.md). The environment overrides the
# configuration file.
ENV ARROW_FLIGHT_ENDPOINT=grpc://arrow-flight-service:8815 \
    OTLP_ARROW_LOG=info

# OTLP/gRPC, OTLP/HTTP (gateway); Arrow Flight (receiver); /health and /ready; /metrics.
EXPOSE 4317 4318 8815 8080 9090
VOLUME ["/var/lib/otlp-arrow"]
WORKDIR /var/lib/otlp-arrow
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# GET /health on listen.health of the configuration (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["otlp-arrow", "healthcheck"]
# SIGTERM drains the export queue and publishes the Parquet files (shutdown_timeout_ms).
STOPSIGNAL SIGTERM
ENTRYPOINT ["otlp-arrow"]
CMD ["all-in-one"]
