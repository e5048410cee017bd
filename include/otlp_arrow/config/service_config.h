// SPDX-License-Identifier: Apache-2.0
// ServiceConfig: the settings of `otlp-arrow gateway`, `receiver` and `all-in-one`, read
// from a YAML file, the environment and command-line flags. See docs/configuration.md.

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/service/otlp_grpc_receiver.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/transport/flight_span_exporter.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::config {

/// \brief Where LoadServiceConfig looks for a file when neither `--config` nor
/// OTLP_ARROW_CONFIG names one (the design document's ConfigMap mount point).
inline constexpr std::string_view kDefaultConfigPath = "/etc/otlp-arrow/config.yaml";

/// \brief Environment variable naming the configuration file (below `--config`).
inline constexpr std::string_view kConfigPathEnvVar = "OTLP_ARROW_CONFIG";

/// \brief Least severe log message written; `off` writes none.
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// \brief `trace`, `debug`, `info`, `warn`, `error` or `off`.
std::string_view ToString(LogLevel level);

/// \brief The inverse of ToString, ignoring case; also takes `warning`.
arrow::Result<LogLevel> ParseLogLevel(std::string_view text);

// Every key below is documented as: key, default, unit and range, environment variable.
// Keys at the top level belong to the gateway side (OTLP in, batching, Flight export);
// `receiver.*` to the receiver side. A subcommand ignores the keys it has no use for, so
// one file can serve all three. Where a component's options struct has the default, it
// is read from its Defaults() rather than repeated.

/// \brief TLS of the gateway's connection to `endpoint` (the seed's TlsConfig).
struct ClientTlsConfig {
  /// \brief Key `tls.enabled`, default false, env OTLP_ARROW_TLS_ENABLED. True turns a
  /// `grpc://` endpoint into `grpc+tls://`; a `grpc+tls://` endpoint sets it to true.
  bool enabled = false;
  /// \brief Key `tls.cert_path`, default "" (no client certificate), env
  /// OTLP_ARROW_TLS_CERT_PATH. PEM client certificate chain for mutual TLS; needs
  /// `tls.key_path`.
  std::string cert_path;
  /// \brief Key `tls.key_path`, default "", env OTLP_ARROW_TLS_KEY_PATH. PEM private key
  /// of `tls.cert_path`.
  std::string key_path;
  /// \brief Key `tls.ca_path`, default "" (the system roots), env OTLP_ARROW_TLS_CA_PATH.
  /// PEM CA bundle that verifies the receiver's certificate.
  std::string ca_path;
  /// \brief Key `tls.server_name`, default "" (the endpoint's host), env
  /// OTLP_ARROW_TLS_SERVER_NAME. Name checked against the receiver's certificate.
  std::string server_name;

  bool operator==(const ClientTlsConfig&) const = default;
};

/// \brief Shared-secret authentication between gateway and receiver.
struct AuthConfig {
  /// \brief Key `auth.token_file`, default "" (no token), env OTLP_ARROW_AUTH_TOKEN_FILE.
  /// File holding one bearer token (surrounding white space ignored) that the gateway
  /// sends and the receiver requires. A file rather than a value keeps the secret out
  /// of the configuration, the environment and `--print-config`.
  std::string token_file;

  bool operator==(const AuthConfig&) const = default;
};

/// \brief TLS of a server: the receiver's Flight server (`receiver.tls.*`, described
/// below) or the gateway's OTLP listeners (`otlp.tls.*`, the same three keys).
struct ServerTlsConfig {
  /// \brief Key `receiver.tls.cert_path`, default "" (plaintext), env
  /// OTLP_ARROW_RECEIVER_TLS_CERT_PATH. PEM certificate chain; enables TLS on
  /// `listen.flight`; needs `receiver.tls.key_path`.
  std::string cert_path;
  /// \brief Key `receiver.tls.key_path`, default "", env
  /// OTLP_ARROW_RECEIVER_TLS_KEY_PATH.
  std::string key_path;
  /// \brief Key `receiver.tls.client_ca_path`, default "" (no client certificates), env
  /// OTLP_ARROW_RECEIVER_TLS_CLIENT_CA_PATH. PEM CA of the clients: mutual TLS. Needs
  /// `receiver.tls.cert_path`.
  std::string client_ca_path;

  bool operator==(const ServerTlsConfig&) const = default;
};

/// \brief Addresses the service listens on, each `host:port` (`[v6]:port` for IPv6;
/// port 0..65535, 0 picks a free port). Two listeners on the same port (a wildcard
/// host overlapping any host) are refused: gRPC binds with SO_REUSEPORT and would
/// silently share the port.
struct ListenConfig {
  /// \brief Key `listen.otlp_grpc`, default 127.0.0.1:4317, env
  /// OTLP_ARROW_LISTEN_OTLP_GRPC. OTLP/gRPC (gateway, all-in-one).
  std::string otlp_grpc = "127.0.0.1:4317";
  /// \brief Key `listen.otlp_http`, default 127.0.0.1:4318, env
  /// OTLP_ARROW_LISTEN_OTLP_HTTP. OTLP/HTTP (gateway, all-in-one).
  std::string otlp_http = "127.0.0.1:4318";
  /// \brief Key `listen.flight`, default 127.0.0.1:8815 (the host and port of
  /// FlightSpanReceiverOptions::listen_uri), env OTLP_ARROW_LISTEN_FLIGHT. Arrow Flight
  /// (receiver, all-in-one); TLS when `receiver.tls.cert_path` is set.
  std::string flight = DefaultFlightListenAddress();
  /// \brief Key `listen.health`, default 127.0.0.1:8080, env OTLP_ARROW_LISTEN_HEALTH.
  /// HTTP `/health` and `/ready` (all subcommands).
  std::string health = "127.0.0.1:8080";
  /// \brief Key `listen.otap`, default "" (off), env OTLP_ARROW_LISTEN_OTAP. OTAP
  /// (ArrowTracesService, as the Collector's otelarrow exporter sends it) and OTLP/gRPC
  /// straight into the receiver's store (receiver, all-in-one); TLS and bearer token as
  /// on `listen.flight`. The gateway and all-in-one take OTAP on `listen.otlp_grpc`.
  std::string otap;

  /// \brief `host:port` of FlightSpanReceiverOptions::Defaults().listen_uri.
  static std::string DefaultFlightListenAddress();

  bool operator==(const ListenConfig&) const = default;
};

/// \brief The gateway's OTLP listeners (`listen.otlp_grpc`, `listen.otlp_http`).
struct OtlpConfig {
  /// \brief TLS of both OTLP listeners (gRPC over TLS, and HTTPS instead of HTTP):
  /// Key `otlp.tls.cert_path`, default "" (plaintext), env
  /// OTLP_ARROW_OTLP_TLS_CERT_PATH: PEM certificate chain; needs the key.
  /// Key `otlp.tls.key_path`, default "", env OTLP_ARROW_OTLP_TLS_KEY_PATH.
  /// Key `otlp.tls.client_ca_path`, default "" (no client certificates), env
  /// OTLP_ARROW_OTLP_TLS_CLIENT_CA_PATH: clients must present a certificate it
  /// signed (mutual TLS); needs the certificate.
  ServerTlsConfig tls{};
  /// \brief Key `otlp.grpc_threads`, default 16, 1..1024, env
  /// OTLP_ARROW_OTLP_GRPC_THREADS. Threads that run OTLP/gRPC Export calls. A call holds
  /// its thread while it waits for queue room (up to `enqueue_timeout_ms`): with one
  /// thread per core, a few waiting clients would delay every other answer.
  int grpc_threads = 16;
  /// \brief Key `otlp.max_otap_streams`, default 64, 0..65536 (0: no limit), env
  /// OTLP_ARROW_OTLP_MAX_OTAP_STREAMS. OTAP streams open at once on an OTLP/gRPC port
  /// (and `listen.otap`); one more ends at once with UNAVAILABLE.
  int max_otap_streams = service::OtlpGrpcReceiverOptions::Defaults().max_otap_streams;
  /// \brief Key `otlp.otap_max_stream_dictionary_bytes`, default 128 MiB, 1 MiB..64 GiB,
  /// env OTLP_ARROW_OTLP_OTAP_MAX_STREAM_DICTIONARY_BYTES. Arrow dictionaries one OTAP
  /// stream may hold (the Collector's `arrow.memory_limit_mib`).
  int64_t otap_max_stream_dictionary_bytes =
      service::OtlpGrpcReceiverOptions::Defaults().otap_max_stream_dictionary_bytes;
  /// \brief Key `otlp.otap_stream_idle_timeout_ms`, default 120000, 0..86400000 (0:
  /// never), env OTLP_ARROW_OTLP_OTAP_STREAM_IDLE_TIMEOUT_MS. An OTAP stream whose client
  /// sends no batch for this long is cancelled.
  std::chrono::milliseconds otap_stream_idle_timeout_ms =
      service::OtlpGrpcReceiverOptions::Defaults().otap_stream_idle_timeout;

  bool operator==(const OtlpConfig&) const = default;
};

/// \brief Metrics and logs (the seed's MonitoringConfig).
struct MonitoringConfig {
  /// \brief Key `monitoring.metrics_port`, default 9090, 0..65535 (0: a free port), env
  /// OTLP_ARROW_MONITORING_METRICS_PORT. Prometheus `/metrics`.
  int metrics_port = 9090;
  /// \brief Key `monitoring.metrics_host`, default 127.0.0.1, env
  /// OTLP_ARROW_MONITORING_METRICS_HOST. Interface of the metrics endpoint. The same
  /// host and port as `listen.health` serve both on one listener.
  std::string metrics_host = "127.0.0.1";
  /// \brief Key `monitoring.verbose_logging`, default false, env
  /// OTLP_ARROW_MONITORING_VERBOSE_LOGGING. The seed's switch: true logs at least at
  /// `debug` (see EffectiveLogLevel()).
  bool verbose_logging = false;
  /// \brief Key `monitoring.log_level`, default info, one of trace|debug|info|warn|error|
  /// off, env OTLP_ARROW_LOG (the seed's RUST_LOG).
  LogLevel log_level = LogLevel::kInfo;

  /// \brief `log_level`, lowered to `debug` when `verbose_logging` is set.
  LogLevel EffectiveLogLevel() const;

  /// \brief `metrics_host:metrics_port` (`[host]:port` for an IPv6 host), as
  /// telemetry::OperationsServerOptions::metrics_address takes it.
  std::string MetricsAddress() const;

  bool operator==(const MonitoringConfig&) const = default;
};

/// \brief Limits on one OTLP request (gateway).
struct LimitsConfig {
  /// \brief Key `limits.max_request_bytes`, default 16 MiB, 1 KiB..2 GiB-1, env
  /// OTLP_ARROW_LIMITS_MAX_REQUEST_BYTES. Request body as received (compressed);
  /// larger: gRPC RESOURCE_EXHAUSTED / HTTP 413.
  int64_t max_request_bytes = int64_t{16} << 20;
  /// \brief Key `limits.max_decompressed_bytes`, default 64 MiB, 1 KiB..2 GiB-1 and at
  /// least `limits.max_request_bytes`, env OTLP_ARROW_LIMITS_MAX_DECOMPRESSED_BYTES.
  /// Request body after gzip; guards against decompression bombs.
  int64_t max_decompressed_bytes = int64_t{64} << 20;
  /// \brief Key `limits.max_inflight_bytes`, default 256 MiB, 1 MiB..64 GiB and at
  /// least 6 × `limits.max_request_bytes`, env OTLP_ARROW_LIMITS_MAX_INFLIGHT_BYTES.
  /// Memory that the OTLP requests being read and decoded hold at once, both
  /// listeners together (service::RequestMemoryBudget); gRPC's transport may hold as
  /// much again of messages not yet taken. A request that does not fit is refused
  /// unread with gRPC RESOURCE_EXHAUSTED + RetryInfo / HTTP 429 + Retry-After.
  int64_t max_inflight_bytes = int64_t{256} << 20;

  bool operator==(const LimitsConfig&) const = default;
};

/// \brief The receiver: Flight server limits and the Parquet span store. Defaults are
/// those of FlightSpanReceiverOptions and ParquetSpanStoreOptions.
struct ReceiverConfig {
  /// \brief Key `receiver.data_dir`, default ./data, non-empty, env
  /// OTLP_ARROW_RECEIVER_DATA_DIR. Parquet under `<dir>/spans`, WAL under `<dir>/wal`.
  std::string data_dir = storage::ParquetSpanStoreOptions::Defaults().data_dir;
  /// \brief Key `receiver.durability`, default fsync, one of fsync|os, env
  /// OTLP_ARROW_RECEIVER_DURABILITY. What an acknowledgement waits for: fdatasync of the
  /// WAL (survives power loss), or the write reaching the OS (survives a process crash).
  storage::WalDurability durability =
      storage::ParquetSpanStoreOptions::Defaults().durability;
  /// \brief Key `receiver.max_file_bytes`, default 128 MiB, 1 MiB..64 GiB, env
  /// OTLP_ARROW_RECEIVER_MAX_FILE_BYTES. Parquet files are published at about this size.
  int64_t max_file_bytes = storage::ParquetSpanStoreOptions::Defaults().max_file_bytes;
  /// \brief Key `receiver.max_file_age_ms`, default 60000 ms, 0..86,400,000 (0: publish
  /// after every batch), env OTLP_ARROW_RECEIVER_MAX_FILE_AGE_MS. Spans become visible
  /// to Parquet readers at the latest this long after they arrive.
  std::chrono::milliseconds max_file_age_ms =
      storage::ParquetSpanStoreOptions::Defaults().max_file_age;
  /// \brief Key `receiver.zstd_level`, default 3, 1..22, env
  /// OTLP_ARROW_RECEIVER_ZSTD_LEVEL. Parquet column compression.
  int zstd_level = storage::ParquetSpanStoreOptions::Defaults().zstd_level;
  /// \brief Key `receiver.max_row_group_rows`, default 131072, 1024..100,000,000, env
  /// OTLP_ARROW_RECEIVER_MAX_ROW_GROUP_ROWS. Rows per Parquet row group at most.
  int64_t max_row_group_rows =
      storage::ParquetSpanStoreOptions::Defaults().max_row_group_rows;
  /// \brief Key `receiver.max_batch_bytes`, default 64 MiB, 1 KiB..2 GiB-1, env
  /// OTLP_ARROW_RECEIVER_MAX_BATCH_BYTES. Largest batch accepted (Arrow buffer bytes,
  /// checked as it decodes); larger ones are refused with RESOURCE_EXHAUSTED and senders
  /// split them.
  int64_t max_batch_bytes =
      transport::FlightSpanReceiverOptions::Defaults().max_batch_bytes;
  /// \brief Key `receiver.max_concurrent_streams`, default 16, 1..4096, env
  /// OTLP_ARROW_RECEIVER_MAX_CONCURRENT_STREAMS. DoPut streams served at once; more are
  /// refused with UNAVAILABLE (clients retry).
  int max_concurrent_streams =
      transport::FlightSpanReceiverOptions::Defaults().max_concurrent_streams;
  /// \brief Key `receiver.max_streams_per_client`, default 8, 0..4096 (0: as
  /// max_concurrent_streams), env OTLP_ARROW_RECEIVER_MAX_STREAMS_PER_CLIENT. DoPut
  /// streams one client address may hold at once.
  int max_streams_per_client =
      transport::FlightSpanReceiverOptions::Defaults().max_streams_per_client;
  /// \brief Key `receiver.max_decoded_bytes_in_flight`, default 256 MiB, 1 KiB..64 GiB,
  /// at least `receiver.max_batch_bytes`, env
  /// OTLP_ARROW_RECEIVER_MAX_DECODED_BYTES_IN_FLIGHT. Bytes of uploaded batches held at
  /// once across all streams, counted before they are allocated; over it, UNAVAILABLE.
  int64_t max_decoded_bytes_in_flight =
      transport::FlightSpanReceiverOptions::Defaults().max_decoded_bytes_in_flight;
  /// \brief Key `receiver.stream_idle_timeout_ms`, default 30000 ms, 0..3,600,000 (0:
  /// none), env OTLP_ARROW_RECEIVER_STREAM_IDLE_TIMEOUT_MS. An upload that sends nothing
  /// for this long is cancelled.
  std::chrono::milliseconds stream_idle_timeout_ms =
      transport::FlightSpanReceiverOptions::Defaults().stream_idle_timeout;
  /// \brief `receiver.tls.*`.
  ServerTlsConfig tls{};

  bool operator==(const ReceiverConfig&) const = default;
};

/// \brief Everything `otlp-arrow gateway`, `receiver` and `all-in-one` are configured
/// with: the seed's ProductionConfig (endpoint, batch_size, flush_interval_ms,
/// buffer_size, max_retries, retry_backoff_ms, tls, monitoring) and what the service
/// needs beyond it. An aggregate, so designated initializers work (the sections' `{}`
/// initializers keep -Wmissing-field-initializers quiet when they are left out).
/// Durations are milliseconds, sizes bytes, counts spans unless a key says otherwise.
struct ServiceConfig {
  /// \brief Key `endpoint`, default grpc://127.0.0.1:8815 (FlightSpanExporterOptions),
  /// env ARROW_FLIGHT_ENDPOINT. The Flight receiver the gateway exports to:
  /// `grpc://host:port`, `grpc+tcp://host:port`, `grpc+tls://host:port` or
  /// `grpc+unix:///path`. The seed's `http://` and `https://` are taken as `grpc://`
  /// and `grpc+tls://` (with a warning) and stored as such.
  std::string endpoint = transport::FlightSpanExporterOptions::Defaults().endpoint;
  /// \brief Key `batch_size`, default 8192 (FlightSpanExporterOptions::batch_size),
  /// 1..1,000,000 spans, env BATCH_SIZE. Spans per exported Arrow batch; bigger batches
  /// compress better.
  int64_t batch_size = transport::FlightSpanExporterOptions::Defaults().batch_size;
  /// \brief Key `flush_interval_ms`, default 1000 ms
  /// (BatchingSpanExporterOptions::flush_interval), 1..3,600,000, env FLUSH_INTERVAL_MS.
  /// A partial batch is exported once its oldest span waited this long.
  std::chrono::milliseconds flush_interval_ms =
      pipeline::BatchingSpanExporterOptions::Defaults().flush_interval;
  /// \brief Key `buffer_size`, default 65536 spans
  /// (BatchingSpanExporterOptions::max_queue_spans), `batch_size`..100,000,000, env
  /// BUFFER_SIZE. Capacity of the export queue in spans.
  int64_t buffer_size = pipeline::BatchingSpanExporterOptions::Defaults().max_queue_spans;
  /// \brief Key `buffer_bytes`, default 256 MiB
  /// (BatchingSpanExporterOptions::max_queue_bytes), 1 MiB..64 GiB, env
  /// OTLP_ARROW_BUFFER_BYTES. Capacity of the export queue in bytes of Arrow data.
  int64_t buffer_bytes =
      pipeline::BatchingSpanExporterOptions::Defaults().max_queue_bytes;
  /// \brief Key `enqueue_timeout_ms`, default 1000 ms
  /// (BatchingSpanExporterOptions::max_enqueue_wait), 0..60,000, env
  /// OTLP_ARROW_ENQUEUE_TIMEOUT_MS. How long an OTLP request waits for room in a full
  /// queue before it is answered RESOURCE_EXHAUSTED / HTTP 429; 0 answers at once.
  std::chrono::milliseconds enqueue_timeout_ms =
      pipeline::BatchingSpanExporterOptions::Defaults().max_enqueue_wait;
  /// \brief Key `max_batch_bytes`, default 4 MiB (FlightSpanExporterOptions), 64 KiB..1
  /// GiB, env OTLP_ARROW_MAX_BATCH_BYTES. Largest IPC body of one exported record batch;
  /// larger batches are cut, down to one span.
  int64_t max_batch_bytes =
      transport::FlightSpanExporterOptions::Defaults().max_batch_bytes;
  /// \brief Key `max_span_bytes`, default 32 MiB (FlightSpanExporterOptions), 1 KiB..1
  /// GiB, env OTLP_ARROW_MAX_SPAN_BYTES. Largest single span (Arrow bytes) the gateway
  /// takes and can deliver; an OTLP request holding a larger one is refused (gRPC
  /// RESOURCE_EXHAUSTED, HTTP 413). `max_batch_bytes + max_span_bytes` must not exceed
  /// `receiver.max_batch_bytes`, so that the receiver takes whatever is sent.
  int64_t max_span_bytes =
      transport::FlightSpanExporterOptions::Defaults().max_span_bytes;
  /// \brief Key `max_retries`, default 5 (FlightSpanExporterOptions; the seed had 3),
  /// 0..100, env OTLP_ARROW_MAX_RETRIES. Retries of a retryable failure per export
  /// call, with exponential backoff and full jitter.
  int max_retries = transport::FlightSpanExporterOptions::Defaults().max_retries;
  /// \brief Key `retry_backoff_ms`, default 100 ms (FlightSpanExporterOptions; the seed
  /// had 1000), 1..600,000 (0 would retry in a busy loop) and at most
  /// `retry_max_backoff_ms`, env
  /// OTLP_ARROW_RETRY_BACKOFF_MS. Backoff ceiling before the first retry; it doubles.
  std::chrono::milliseconds retry_backoff_ms =
      transport::FlightSpanExporterOptions::Defaults().initial_backoff;
  /// \brief Key `retry_max_backoff_ms`, default 5000 ms (FlightSpanExporterOptions),
  /// 1..3,600,000, env OTLP_ARROW_RETRY_MAX_BACKOFF_MS. Largest backoff ceiling.
  std::chrono::milliseconds retry_max_backoff_ms =
      transport::FlightSpanExporterOptions::Defaults().max_backoff;
  /// \brief Key `export_timeout_ms`, default 10000 ms
  /// (FlightSpanExporterOptions::timeout), 0..3,600,000 (0: no deadline), env
  /// OTLP_ARROW_EXPORT_TIMEOUT_MS. Deadline of one DoPut stream; an export of any size
  /// continues on new streams.
  std::chrono::milliseconds export_timeout_ms =
      transport::FlightSpanExporterOptions::Defaults().timeout;
  /// \brief Key `compression`, default zstd (FlightSpanExporterOptions), one of
  /// none|lz4|zstd, env OTLP_ARROW_COMPRESSION. IPC body compression on the wire.
  transport::FlightCompression compression =
      transport::FlightSpanExporterOptions::Defaults().compression;
  /// \brief Key `shutdown_timeout_ms`, default 20000 ms, 0..3,600,000, env
  /// OTLP_ARROW_SHUTDOWN_TIMEOUT_MS. On SIGTERM/SIGINT: how long queued spans are
  /// exported and running streams finish before the process gives up and exits.
  std::chrono::milliseconds shutdown_timeout_ms{20000};
  /// \brief `tls.*`: the gateway's TLS to `endpoint`.
  ClientTlsConfig tls{};
  /// \brief `auth.*`.
  AuthConfig auth{};
  /// \brief `listen.*`.
  ListenConfig listen{};
  /// \brief `otlp.*`.
  OtlpConfig otlp{};
  /// \brief `monitoring.*`.
  MonitoringConfig monitoring{};
  /// \brief `limits.*`.
  LimitsConfig limits{};
  /// \brief `receiver.*`.
  ReceiverConfig receiver{};

  /// \brief The values above.
  static ServiceConfig Defaults() { return {}; }

  bool operator==(const ServiceConfig&) const = default;
};

/// \brief A flag's value and how the user spelt the flag, for error messages.
struct FlagValue {
  FlagValue(std::string value, std::string flag = "")
      : value(std::move(value)), flag(std::move(flag)) {}
  FlagValue(const char* value) : value(value) {}

  std::string value;
  /// \brief E.g. `--data-dir`; empty: the message says `--set <key>=<value>`.
  std::string flag;
};

/// \brief Where LoadServiceConfig reads from. Precedence, highest first: `flags`, then
/// `environment`, then the file, then the defaults in ServiceConfig.
struct ConfigSources {
  /// \brief `--config FILE`: must exist. Unset: the file named by OTLP_ARROW_CONFIG
  /// (must exist), else `default_config_path` if it exists, else no file.
  std::optional<std::string> config_path;
  /// \brief Replaceable for tests.
  std::string default_config_path = std::string(kDefaultConfigPath);
  /// \brief Variable → value. Unset: the process environment (ProcessEnvironment()).
  /// A variable with an empty value counts as unset, as in the OpenTelemetry SDKs.
  std::optional<std::map<std::string, std::string>> environment;
  /// \brief Dotted key (`batch_size`, `listen.otlp_grpc`, `receiver.data_dir`) → value,
  /// as text; parsed like environment values.
  std::map<std::string, FlagValue> flags;
};

/// \brief A loaded configuration and what the loading learned on the way.
struct LoadedServiceConfig {
  ServiceConfig config;
  /// \brief The file read; empty when there was none.
  std::string config_file;
  /// \brief Key → where its value came from (`config.yaml:3:13`, `environment variable
  /// BATCH_SIZE`, `flag --batch-size`); keys left at their default are absent.
  std::map<std::string, std::string> origins;
  /// \brief Things worth logging that do not stop the program: an `http://` endpoint
  /// taken as `grpc://`, an unknown OTLP_ARROW_* environment variable.
  std::vector<std::string> warnings;
};

/// \brief Reads the configuration from `sources` and validates it.
///
/// \return Status::Invalid listing every problem found, one per line, each starting
/// with where the value came from (`file:line:column: key: …`, `environment variable
/// BATCH_SIZE: batch_size: …`, `flag --batch-size: batch_size: …`): unknown keys (with
/// a suggestion when one is close), values of the wrong type or out of range, bad
/// addresses and endpoints, contradicting keys, YAML syntax errors. Status::IOError
/// when a named file cannot be read.
arrow::Result<LoadedServiceConfig> LoadServiceConfig(const ConfigSources& sources);

/// \brief Reads YAML text as a configuration file alone (no environment, no flags);
/// `file_name` prefixes the locations in messages. Empty text means the defaults.
arrow::Result<LoadedServiceConfig> ParseServiceConfig(std::string_view yaml,
                                                      std::string_view file_name);

/// \brief Checks a configuration built in code with the rules LoadServiceConfig applies.
arrow::Status ValidateServiceConfig(const ServiceConfig& config);

/// \brief The configuration as YAML (`--print-config`): every key, in the order of
/// docs/configuration.md; loading it back gives `config` again.
std::string ToYaml(const ServiceConfig& config);

/// \brief As ToYaml(config), with a comment naming the origin of each value that is not
/// a default.
std::string ToYaml(const LoadedServiceConfig& loaded);

/// \brief The environment of this process.
std::map<std::string, std::string> ProcessEnvironment();

/// \brief One configuration key, for help texts and documentation.
struct ConfigKeyInfo {
  /// \brief Dotted key, e.g. `receiver.data_dir`.
  std::string key;
  /// \brief Environment variable that sets it.
  std::string env_var;
  /// \brief What a value looks like, e.g. `integer (spans)`, `milliseconds`,
  /// `none|lz4|zstd`, `host:port`.
  std::string type;
  /// \brief Allowed values, e.g. `1..1000000`; empty when `type` says it all.
  std::string range;
  /// \brief The default as ToYaml writes it.
  std::string default_value;
};

/// \brief Every key, in ToYaml's order.
const std::vector<ConfigKeyInfo>& ConfigKeys();

}  // namespace otlp_arrow::config
