// SPDX-License-Identifier: Apache-2.0
// From a ServiceConfig to the options struct of every component of the process. One
// function, so that `config check`, `--print-config` and the start-up agree: a
// configuration that passes here passes each component's own Validate(). Here rather
// than in the components so that only the program depends on the configuration.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "otlp_arrow/config/service_config.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/otlp_trace_ingest.h"
#include "otlp_arrow/service/otlp_grpc_receiver.h"
#include "otlp_arrow/service/otlp_http_receiver.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/telemetry/operations_server.h"
#include "otlp_arrow/transport/flight_span_exporter.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::config {

/// \brief Which parts a process runs.
enum class ServiceRole {
  /// OTLP/gRPC and OTLP/HTTP receivers, the batching exporter, Flight out to `endpoint`.
  kGateway,
  /// The Flight receiver storing Parquet under `receiver.data_dir`.
  kReceiver,
  /// Both; the gateway exports to the receiver in the same process (over loopback
  /// Flight, so that the path is the one a split deployment takes).
  kAllInOne,
};

/// \brief `gateway`, `receiver` or `all-in-one`.
std::string_view ToString(ServiceRole role);

/// \brief The gateway's components.
struct GatewayOptions {
  /// \brief `endpoint` (in all-in-one the receiver of the same process), `tls.*`,
  /// `auth.token_file`, `batch_size`, `max_batch_bytes`,
  /// `max_span_bytes`, `max_retries`, `retry_*`, `export_timeout_ms`, `compression`.
  transport::FlightSpanExporterOptions exporter;
  /// \brief `batch_size`, `flush_interval_ms`, `buffer_size`, `buffer_bytes`,
  /// `enqueue_timeout_ms`, `retry_backoff_ms`, `retry_max_backoff_ms`,
  /// `shutdown_timeout_ms`.
  pipeline::BatchingSpanExporterOptions batching;
  /// \brief `max_span_bytes`.
  pipeline::OtlpTraceIngestOptions ingest;
  /// \brief `listen.otlp_grpc`, `otlp.tls.*`, `limits.max_request_bytes`,
  /// `limits.max_inflight_bytes` (as transport_memory_bytes), `otlp.grpc_threads`,
  /// `otlp.max_otap_streams`, `otlp.otap_max_stream_dictionary_bytes`. The memory
  /// budget is the process's and is set when it starts.
  service::OtlpGrpcReceiverOptions otlp_grpc;
  /// \brief `listen.otlp_http`, `otlp.tls.*`, `limits.max_request_bytes`,
  /// `limits.max_decompressed_bytes`. The memory budget likewise.
  service::OtlpHttpReceiverOptions otlp_http;
  /// \brief `limits.max_inflight_bytes`: the capacity of the RequestMemoryBudget both
  /// OTLP listeners share.
  int64_t request_budget_bytes = 0;
};

/// \brief The receiver's components.
struct ReceiverOptions {
  /// \brief `listen.flight` (`grpc+tls://` when `receiver.tls.cert_path` is set, else
  /// `grpc://`), `receiver.tls.*`, `auth.token_file`, `receiver.max_batch_bytes`,
  /// `receiver.max_concurrent_streams`, `receiver.max_streams_per_client`,
  /// `receiver.max_decoded_bytes_in_flight`, `receiver.stream_idle_timeout_ms`.
  transport::FlightSpanReceiverOptions flight;
  /// \brief `receiver.data_dir`, `receiver.durability`, `receiver.max_file_bytes`,
  /// `receiver.max_file_age_ms`, `receiver.zstd_level`, `receiver.max_row_group_rows`.
  storage::ParquetSpanStoreOptions store;
  /// \brief With `listen.otap`: OTAP and OTLP/gRPC straight into the store, with
  /// `receiver.tls.*`, `auth.token_file`, `limits.max_request_bytes`,
  /// `otlp.grpc_threads`, `otlp.max_otap_streams`,
  /// `otlp.otap_max_stream_dictionary_bytes`.
  std::optional<service::OtlpGrpcReceiverOptions> otap;
};

/// \brief The options of every component a role runs.
struct ComponentOptions {
  /// \brief Set for the gateway and all-in-one.
  std::optional<GatewayOptions> gateway;
  /// \brief Set for the receiver and all-in-one.
  std::optional<ReceiverOptions> receiver;
  /// \brief `listen.health`, `monitoring.metrics_host`, `monitoring.metrics_port`.
  telemetry::OperationsServerOptions operations;
  /// \brief With FileMode::kReadIfPresent: the files that could not be read here.
  std::vector<std::string> warnings;
};

/// \brief How MakeComponentOptions treats the files the configuration names (the TLS
/// PEM files and `auth.token_file`).
enum class FileMode {
  /// \brief Start-up: every file the role needs is read; an unreadable one is
  /// Status::IOError naming its key.
  kRead,
  /// \brief `config check` and `--print-config`: a readable file is read and checked
  /// as at start-up (an empty token file is an error in both); an unreadable one is a
  /// warning (CI rarely has the secrets) and a placeholder stands in for it.
  kReadIfPresent,
};

/// \brief The options of every component `role` runs, built from `config`: checks
/// ValidateServiceConfig(config), reads the files, fills each options struct from its
/// Defaults() and the keys, and calls the struct's Validate(). An error names the
/// component and, where it can, the key.
arrow::Result<ComponentOptions> MakeComponentOptions(const ServiceConfig& config,
                                                     ServiceRole role,
                                                     FileMode files = FileMode::kRead);

}  // namespace otlp_arrow::config
