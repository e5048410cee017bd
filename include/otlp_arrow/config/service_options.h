// SPDX-License-Identifier: Apache-2.0
// From a ServiceConfig to the options structs of the exporter, the receiver and the span
// store. Here rather than in transport or storage so that only the program depends on
// the configuration.

#pragma once

#include <arrow/result.h>

#include "otlp_arrow/config/service_config.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/transport/flight_span_exporter.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::config {

/// \brief The gateway's exporter: `endpoint`, `tls.*`, `auth.token_file`, `batch_size`
/// (as batch_size), `max_batch_bytes`, `max_retries`, `retry_*`,
/// `export_timeout_ms`, `compression`.
///
/// Reads the files `tls.ca_path`, `tls.cert_path`, `tls.key_path` and
/// `auth.token_file`; an unreadable one is Status::IOError naming the key. The result
/// has passed FlightSpanExporterOptions::Validate().
arrow::Result<transport::FlightSpanExporterOptions> MakeExporterOptions(
    const ServiceConfig& config);

/// \brief The receiver's Flight server: `listen.flight` (`grpc+tls://` when
/// `receiver.tls.cert_path` is set, else `grpc://`), `receiver.tls.*`,
/// `auth.token_file`, `receiver.max_batch_bytes`, `receiver.max_concurrent_streams`.
/// Reads the PEM and token files like MakeExporterOptions.
arrow::Result<transport::FlightSpanReceiverOptions> MakeReceiverOptions(
    const ServiceConfig& config);

/// \brief The PEM contents of a server's TLS files.
struct ServerTlsPem {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;
};

/// \brief Reads `otlp.tls.*` for the OTLP listeners; all empty without TLS. An
/// unreadable file is Status::IOError naming the key.
arrow::Result<ServerTlsPem> ReadOtlpTls(const ServiceConfig& config);

/// \brief The receiver's span store: `receiver.data_dir`, `receiver.durability`,
/// `receiver.max_file_bytes`, `receiver.max_file_age_ms`, `receiver.zstd_level`,
/// `receiver.max_row_group_rows`; the other fields keep their defaults.
storage::ParquetSpanStoreOptions MakeStoreOptions(const ServiceConfig& config);

}  // namespace otlp_arrow::config
