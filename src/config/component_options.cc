// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/config/component_options.h"

#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "otlp_arrow/common/file.h"

namespace otlp_arrow::config {

namespace {

bool RunsGateway(ServiceRole role) { return role != ServiceRole::kReceiver; }
bool RunsReceiver(ServiceRole role) { return role != ServiceRole::kGateway; }

// Errors name the key, so that a missing certificate points at the line to fix.
arrow::Result<std::string> ReadKeyFile(const std::string& path, const char* key) {
  return common::ReadWholeFile(path, key);
}

arrow::Result<std::string> ReadToken(const std::string& path) {
  return common::ReadToken(path, "auth.token_file");
}

// Reads the files a configuration names as `mode` says; remembers what it could not.
class FileReader {
 public:
  FileReader(FileMode mode, std::vector<std::string>* warnings)
      : mode_(mode), warnings_(warnings) {}

  // The content of `path`; with kReadIfPresent, a placeholder for an unreadable file,
  // so that the options structs see the same fields set as at start-up.
  arrow::Result<std::string> Read(const std::string& path, const char* key) {
    if (Skip(path, key)) return std::string("(") + key + " not read here)";
    return ReadKeyFile(path, key);
  }

  arrow::Result<std::string> Token(const std::string& path) {
    if (Skip(path, "auth.token_file")) return std::string("unread-token");
    return ReadToken(path);
  }

 private:
  bool Skip(const std::string& path, const char* key) {
    if (mode_ == FileMode::kRead || access(path.c_str(), R_OK) == 0) return false;
    const std::string warning = std::string(key) + ": '" + path +
                                "' is not readable here; the service reads it when it "
                                "starts";
    if (std::find(warnings_->begin(), warnings_->end(), warning) == warnings_->end()) {
      warnings_->push_back(warning);
    }
    return true;
  }

  const FileMode mode_;
  std::vector<std::string>* warnings_;
};

// A component refused its options: says which, since the component's message names its
// own fields rather than the keys.
arrow::Status Checked(const arrow::Status& status, std::string_view component,
                      std::string_view keys) {
  if (status.ok()) return status;
  return status.WithMessage(component, " (", keys, "): ", status.message());
}

// Where a client in this process reaches a listener bound to `address`: a wildcard
// host is not an address to connect to.
std::string LocalHost(const std::string& address) {
  const auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    return "127.0.0.1";
  }
  return host;
}

// The endpoint the gateway exports to. A loaded configuration already has the scheme
// rewritten for tls.enabled; one built in code may rely on tls.enabled alone. In
// all-in-one, the receiver of the same process (ServiceRuntime puts in the port it got
// when `listen.flight` asks for a free one).
std::string ExportEndpoint(const ServiceConfig& config, ServiceRole role) {
  std::string endpoint = config.endpoint;
  if (role == ServiceRole::kAllInOne) {
    const bool tls = !config.receiver.tls.cert_path.empty();
    const auto colon = config.listen.flight.rfind(':');
    endpoint = std::string(tls ? "grpc+tls://" : "grpc://") +
               LocalHost(config.listen.flight) + config.listen.flight.substr(colon);
  }
  for (std::string_view plain : {"grpc://", "grpc+tcp://"}) {
    if (config.tls.enabled && endpoint.rfind(plain, 0) == 0) {
      return "grpc+tls://" + endpoint.substr(plain.size());
    }
  }
  return endpoint;
}

arrow::Result<transport::FlightSpanExporterOptions> MakeExporterOptions(
    const ServiceConfig& config, ServiceRole role, FileReader* files) {
  auto options = transport::FlightSpanExporterOptions::Defaults();
  options.endpoint = ExportEndpoint(config, role);
  options.timeout = config.export_timeout_ms;
  options.compression = config.compression;
  if (!config.tls.ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.tls_root_certs,
                          files->Read(config.tls.ca_path, "tls.ca_path"));
  }
  if (!config.tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.tls_cert_chain,
                          files->Read(config.tls.cert_path, "tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(options.tls_private_key,
                          files->Read(config.tls.key_path, "tls.key_path"));
  }
  options.tls_server_name_override = config.tls.server_name;
  if (!config.auth.token_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(options.bearer_token, files->Token(config.auth.token_file));
    // A refused token is read again: a rotated Secret reaches the file in place.
    options.reload_bearer_token = [path = config.auth.token_file] {
      return ReadToken(path);
    };
  }
  options.batch_size = config.batch_size;
  options.max_batch_bytes = config.max_batch_bytes;
  options.max_span_bytes = config.max_span_bytes;
  options.max_retries = config.max_retries;
  options.initial_backoff = config.retry_backoff_ms;
  options.max_backoff = config.retry_max_backoff_ms;
  // Every batch comes from SpanTableEncoder, which only makes valid span tables; the
  // receiver validates again anyway.
  options.validate_batches = false;
  ARROW_RETURN_NOT_OK(Checked(options.Validate(), "Flight exporter",
                              "endpoint, tls.*, batch_size, max_batch_bytes, "
                              "max_span_bytes, max_retries, retry_*"));
  return options;
}

arrow::Result<GatewayOptions> MakeGatewayOptions(const ServiceConfig& config,
                                                 ServiceRole role, FileReader* files) {
  GatewayOptions gateway;
  ARROW_ASSIGN_OR_RAISE(gateway.exporter, MakeExporterOptions(config, role, files));

  auto& batching = gateway.batching;
  batching = pipeline::BatchingSpanExporterOptions::Defaults();
  batching.batch_size = config.batch_size;
  batching.flush_interval = config.flush_interval_ms;
  batching.max_queue_spans = config.buffer_size;
  batching.max_queue_bytes = config.buffer_bytes;
  batching.max_enqueue_wait = config.enqueue_timeout_ms;
  batching.initial_backoff = config.retry_backoff_ms;
  batching.max_backoff = config.retry_max_backoff_ms;
  batching.shutdown_timeout = config.shutdown_timeout_ms;
  ARROW_RETURN_NOT_OK(Checked(batching.Validate(), "export queue",
                              "batch_size, flush_interval_ms, buffer_size, buffer_bytes, "
                              "enqueue_timeout_ms, retry_backoff_ms, "
                              "retry_max_backoff_ms, shutdown_timeout_ms"));

  gateway.ingest.max_span_bytes = config.max_span_bytes;
  ARROW_RETURN_NOT_OK(
      Checked(gateway.ingest.Validate(), "OTLP ingest", "max_span_bytes"));

  const ServerTlsConfig& tls = config.otlp.tls;
  std::string cert_pem, key_pem, client_ca_pem;
  if (!tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(cert_pem, files->Read(tls.cert_path, "otlp.tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(key_pem, files->Read(tls.key_path, "otlp.tls.key_path"));
  }
  if (!tls.client_ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(client_ca_pem,
                          files->Read(tls.client_ca_path, "otlp.tls.client_ca_path"));
  }
  gateway.request_budget_bytes = config.limits.max_inflight_bytes;

  auto& grpc = gateway.otlp_grpc;
  grpc = service::OtlpGrpcReceiverOptions::Defaults();
  grpc.endpoint = config.listen.otlp_grpc;
  grpc.tls_cert_pem = cert_pem;
  grpc.tls_key_pem = key_pem;
  grpc.client_ca_pem = client_ca_pem;
  grpc.max_receive_message_bytes = config.limits.max_request_bytes;
  grpc.transport_memory_bytes = config.limits.max_inflight_bytes;
  grpc.num_threads = config.otlp.grpc_threads;
  grpc.max_otap_streams = config.otlp.max_otap_streams;
  grpc.otap_max_stream_dictionary_bytes = config.otlp.otap_max_stream_dictionary_bytes;
  grpc.otap_stream_idle_timeout = config.otlp.otap_stream_idle_timeout_ms;
  ARROW_RETURN_NOT_OK(
      Checked(grpc.Validate(), "OTLP/gRPC receiver",
              "listen.otlp_grpc, otlp.tls.*, limits.*, otlp.grpc_threads, otlp.*otap*"));

  auto& http = gateway.otlp_http;
  http = service::OtlpHttpReceiverOptions::Defaults();
  http.endpoint = config.listen.otlp_http;
  http.tls_cert_pem = std::move(cert_pem);
  http.tls_key_pem = std::move(key_pem);
  http.client_ca_pem = std::move(client_ca_pem);
  http.max_request_bytes = config.limits.max_request_bytes;
  http.max_decompressed_bytes = config.limits.max_decompressed_bytes;
  ARROW_RETURN_NOT_OK(Checked(http.Validate(), "OTLP/HTTP receiver",
                              "listen.otlp_http, otlp.tls.*, limits.*"));
  return gateway;
}

arrow::Result<ReceiverOptions> MakeReceiverOptions(const ServiceConfig& config,
                                                   FileReader* files) {
  ReceiverOptions receiver;
  auto& flight = receiver.flight;
  const ServerTlsConfig& tls = config.receiver.tls;
  flight = transport::FlightSpanReceiverOptions::Defaults();
  flight.listen_uri =
      (tls.cert_path.empty() ? "grpc://" : "grpc+tls://") + config.listen.flight;
  if (!tls.cert_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(flight.tls_cert_pem,
                          files->Read(tls.cert_path, "receiver.tls.cert_path"));
    ARROW_ASSIGN_OR_RAISE(flight.tls_key_pem,
                          files->Read(tls.key_path, "receiver.tls.key_path"));
  }
  if (!tls.client_ca_path.empty()) {
    ARROW_ASSIGN_OR_RAISE(flight.client_ca_pem,
                          files->Read(tls.client_ca_path, "receiver.tls.client_ca_path"));
  }
  if (!config.auth.token_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(flight.bearer_token, files->Token(config.auth.token_file));
  }
  flight.max_batch_bytes = config.receiver.max_batch_bytes;
  flight.max_concurrent_streams = config.receiver.max_concurrent_streams;
  flight.max_streams_per_client = config.receiver.max_streams_per_client;
  flight.max_decoded_bytes_in_flight = config.receiver.max_decoded_bytes_in_flight;
  flight.stream_idle_timeout = config.receiver.stream_idle_timeout_ms;
  ARROW_RETURN_NOT_OK(
      Checked(flight.Validate(), "Flight receiver",
              "listen.flight, receiver.tls.*, auth.token_file, receiver.*"));

  auto& store = receiver.store;
  store = storage::ParquetSpanStoreOptions::Defaults();
  store.data_dir = config.receiver.data_dir;
  store.durability = config.receiver.durability;
  store.max_file_bytes = config.receiver.max_file_bytes;
  store.max_file_age = config.receiver.max_file_age_ms;
  store.zstd_level = config.receiver.zstd_level;
  store.max_row_group_rows = config.receiver.max_row_group_rows;
  ARROW_RETURN_NOT_OK(Checked(store.Validate(), "span store", "receiver.*"));

  if (!config.listen.otap.empty()) {
    auto otap = service::OtlpGrpcReceiverOptions::Defaults();
    otap.endpoint = config.listen.otap;
    otap.tls_cert_pem = flight.tls_cert_pem;
    otap.tls_key_pem = flight.tls_key_pem;
    otap.client_ca_pem = flight.client_ca_pem;
    otap.bearer_token = flight.bearer_token.value_or("");
    otap.max_receive_message_bytes = config.limits.max_request_bytes;
    otap.num_threads = config.otlp.grpc_threads;
    otap.max_otap_streams = config.otlp.max_otap_streams;
    otap.otap_max_stream_dictionary_bytes = config.otlp.otap_max_stream_dictionary_bytes;
    otap.otap_stream_idle_timeout = config.otlp.otap_stream_idle_timeout_ms;
    ARROW_RETURN_NOT_OK(Checked(otap.Validate(), "OTAP receiver",
                                "listen.otap, receiver.tls.*, limits.max_request_bytes, "
                                "otlp.*"));
    receiver.otap = std::move(otap);
  }
  return receiver;
}

}  // namespace

std::string_view ToString(ServiceRole role) {
  switch (role) {
    case ServiceRole::kGateway:
      return "gateway";
    case ServiceRole::kReceiver:
      return "receiver";
    case ServiceRole::kAllInOne:
      return "all-in-one";
  }
  return "?";
}

arrow::Result<ComponentOptions> MakeComponentOptions(const ServiceConfig& config,
                                                     ServiceRole role, FileMode mode) {
  ARROW_RETURN_NOT_OK(ValidateServiceConfig(config));
  ComponentOptions options;
  FileReader files(mode, &options.warnings);
  if (RunsReceiver(role)) {
    ARROW_ASSIGN_OR_RAISE(options.receiver, MakeReceiverOptions(config, &files));
  }
  if (RunsGateway(role)) {
    ARROW_ASSIGN_OR_RAISE(options.gateway, MakeGatewayOptions(config, role, &files));
  }
  options.operations = telemetry::OperationsServerOptions::Defaults();
  options.operations.health_address = config.listen.health;
  options.operations.metrics_address = config.monitoring.MetricsAddress();
  ARROW_RETURN_NOT_OK(Checked(options.operations.Validate(), "operations server",
                              "listen.health, monitoring.metrics_*"));
  return options;
}

}  // namespace otlp_arrow::config
