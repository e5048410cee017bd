// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/config/service_options.h"

#include <string>

#include "otlp_arrow/common/file.h"

namespace otlp_arrow::config {

namespace {

// Errors name the key, so that a missing certificate points at the line to fix.
arrow::Result<std::string> ReadKeyFile(const std::string& path, const char* key) {
  return common::ReadWholeFile(path, key);
}

arrow::Result<std::string> ReadToken(const std::string& path) {
  return common::ReadToken(path, "auth.token_file");
}

// A loaded configuration already has the scheme rewritten; one built in code may rely
// on tls.enabled alone.
std::string EffectiveEndpoint(const ServiceConfig& config) {
  for (std::string_view plain : {"grpc://", "grpc+tcp://"}) {
    if (config.tls.enabled && config.endpoint.rfind(plain, 0) == 0) {
      return "grpc+tls://" + config.endpoint.substr(plain.size());
    }
  }
  return config.endpoint;
}

}  // namespace

arrow::Result<transport::FlightSpanExporterOptions> MakeExporterOptions(
    const ServiceConfig& config) {
  ARROW_RETURN_NOT_OK(ValidateServiceConfig(config));
  auto options = transport::FlightSpanExporterOptions::Defaults();
  options.endpoint = EffectiveEndpoint(config);
  options.timeout = config.export_timeout_ms;
  options.compression = config.compression;
  if (!config.tls.ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.tls_root_certs,
                          ReadKeyFile(config.tls.ca_path, "tls.ca_path"));
  }
  if (!config.tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.tls_cert_chain,
                          ReadKeyFile(config.tls.cert_path, "tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(options.tls_private_key,
                          ReadKeyFile(config.tls.key_path, "tls.key_path"));
  }
  options.tls_server_name_override = config.tls.server_name;
  if (!config.auth.token_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.bearer_token, ReadToken(config.auth.token_file));
    // A refused token is read again: a rotated Secret reaches the file in place.
    options.reload_bearer_token = [path = config.auth.token_file] {
      return ReadToken(path);
    };
  }
  options.max_batch_rows = config.batch_size;
  options.max_batch_bytes = config.max_batch_bytes;
  options.max_span_bytes = config.max_span_bytes;
  options.max_retries = config.max_retries;
  options.initial_backoff = config.retry_backoff_ms;
  options.max_backoff = config.retry_max_backoff_ms;
  ARROW_RETURN_NOT_OK(options.Validate());
  return options;
}

arrow::Result<transport::FlightSpanReceiverOptions> MakeReceiverOptions(
    const ServiceConfig& config) {
  ARROW_RETURN_NOT_OK(ValidateServiceConfig(config));
  const ServerTlsConfig& tls = config.receiver.tls;
  auto options = transport::FlightSpanReceiverOptions::Defaults();
  options.listen_uri =
      (tls.cert_path.empty() ? "grpc://" : "grpc+tls://") + config.listen.flight;
  if (!tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.tls_cert_pem,
                          ReadKeyFile(tls.cert_path, "receiver.tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(options.tls_key_pem,
                          ReadKeyFile(tls.key_path, "receiver.tls.key_path"));
  }
  if (!tls.client_ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.client_ca_pem,
                          ReadKeyFile(tls.client_ca_path, "receiver.tls.client_ca_path"));
  }
  if (!config.auth.token_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.bearer_token, ReadToken(config.auth.token_file));
  }
  options.max_batch_bytes = config.receiver.max_batch_bytes;
  options.max_concurrent_streams = config.receiver.max_concurrent_streams;
  options.max_streams_per_client = config.receiver.max_streams_per_client;
  options.max_decoded_bytes_in_flight = config.receiver.max_decoded_bytes_in_flight;
  options.stream_idle_timeout = config.receiver.stream_idle_timeout_ms;
  return options;
}

arrow::Result<ServerTlsPem> ReadOtlpTls(const ServiceConfig& config) {
  ARROW_RETURN_NOT_OK(ValidateServiceConfig(config));
  const ServerTlsConfig& tls = config.otlp.tls;
  ServerTlsPem pem;
  if (!tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(pem.cert_pem, ReadKeyFile(tls.cert_path, "otlp.tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(pem.key_pem, ReadKeyFile(tls.key_path, "otlp.tls.key_path"));
  }
  if (!tls.client_ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(pem.client_ca_pem,
                          ReadKeyFile(tls.client_ca_path, "otlp.tls.client_ca_path"));
  }
  return pem;
}

storage::ParquetSpanStoreOptions MakeStoreOptions(const ServiceConfig& config) {
  auto options = storage::ParquetSpanStoreOptions::Defaults();
  options.data_dir = config.receiver.data_dir;
  options.durability = config.receiver.durability;
  options.max_file_bytes = config.receiver.max_file_bytes;
  options.max_file_age = config.receiver.max_file_age_ms;
  options.zstd_level = config.receiver.zstd_level;
  options.max_row_group_rows = config.receiver.max_row_group_rows;
  return options;
}

}  // namespace otlp_arrow::config
