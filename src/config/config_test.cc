// SPDX-License-Identifier: Apache-2.0

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_keys_internal.h"
#include "config_values_internal.h"
#include "otlp_arrow/config/component_options.h"
#include "otlp_arrow/config/config_check.h"
#include "otlp_arrow/config/service_config.h"

namespace otlp_arrow::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;
using Environment = std::map<std::string, std::string>;

// A fresh directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "otlp-arrow-config-XXXXXX").string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Sources with no environment and a default file that does not exist, so that nothing
// of the machine running the test leaks in.
ConfigSources IsolatedSources(const TempDir& dir) {
  ConfigSources sources;
  sources.default_config_path = dir.Path("absent.yaml");
  sources.environment.emplace();
  return sources;
}

LoadedServiceConfig LoadOrDie(std::string_view yaml) {
  auto loaded = ParseServiceConfig(yaml, "test.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? *std::move(loaded) : LoadedServiceConfig{};
}

// The message of the Invalid status that `yaml` must produce.
std::string ErrorOf(std::string_view yaml) {
  auto loaded = ParseServiceConfig(yaml, "test.yaml");
  EXPECT_FALSE(loaded.ok()) << "loaded:\n" << yaml;
  if (loaded.ok()) return "";
  EXPECT_TRUE(loaded.status().IsInvalid()) << loaded.status().ToString();
  return loaded.status().message();
}

std::string LoadError(const ConfigSources& sources) {
  auto loaded = LoadServiceConfig(sources);
  EXPECT_FALSE(loaded.ok());
  return loaded.ok() ? "" : loaded.status().ToString();
}

// A value for every key, none of them the default.
constexpr std::string_view kEveryKey = R"(# every key, none at its default
endpoint: grpc+tls://collector.example:9443
batch_size: 500
flush_interval_ms: 250
buffer_size: 5000
buffer_bytes: 64MiB
enqueue_timeout_ms: 0
max_batch_bytes: 1048576
max_span_bytes: 8MiB
max_retries: 7
retry_backoff_ms: 50
retry_max_backoff_ms: 2000
export_timeout_ms: 15000
compression: lz4
shutdown_timeout_ms: 5000
tls:
  enabled: true
  cert_path: /etc/otlp-arrow/client.pem
  key_path: /etc/otlp-arrow/client.key
  ca_path: /etc/otlp-arrow/ca.pem
  server_name: receiver.internal
auth:
  token_file: /run/secrets/token
listen:
  otlp_grpc: 0.0.0.0:14317
  otlp_http: "[::1]:14318"
  flight: 0.0.0.0:18815
  health: 0.0.0.0:18080
  otap: 0.0.0.0:14319
otlp:
  tls:
    cert_path: /etc/otlp-arrow/otlp.pem
    key_path: /etc/otlp-arrow/otlp.key
    client_ca_path: /etc/otlp-arrow/sdk-ca.pem
  grpc_threads: 32
  max_otap_streams: 8
  otap_max_stream_dictionary_bytes: 64MiB
  otap_stream_idle_timeout_ms: 45000
monitoring:
  metrics_port: 19090
  metrics_host: 0.0.0.0
  verbose_logging: true
  log_level: warn
limits:
  max_request_bytes: 2097152
  max_decompressed_bytes: 8MiB
  max_inflight_bytes: 96MiB
receiver:
  data_dir: /var/lib/otlp-arrow
  durability: os
  max_file_bytes: 32 MiB
  max_file_age_ms: 10000
  zstd_level: 9
  max_row_group_rows: 65536
  max_batch_bytes: 16MiB
  max_concurrent_streams: 64
  max_streams_per_client: 4
  max_decoded_bytes_in_flight: 96MiB
  stream_idle_timeout_ms: 5000
  tls:
    cert_path: /etc/otlp-arrow/server.pem
    key_path: /etc/otlp-arrow/server.key
    client_ca_path: /etc/otlp-arrow/clients.pem
)";

// --- defaults ----------------------------------------------------------------------

TEST(ServiceConfigDefaults, NoFileNoEnvironmentNoFlags) {
  TempDir dir;
  auto loaded = LoadServiceConfig(IsolatedSources(dir));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config, ServiceConfig::Defaults());
  EXPECT_EQ(loaded->config_file, "");
  EXPECT_THAT(loaded->origins, IsEmpty());
  EXPECT_THAT(loaded->warnings, IsEmpty());

  const ServiceConfig& c = loaded->config;
  EXPECT_EQ(c.endpoint, "grpc://127.0.0.1:8815");
  EXPECT_EQ(c.batch_size, 8192);
  EXPECT_EQ(c.flush_interval_ms, 1000ms);
  EXPECT_EQ(c.buffer_size, 65536);
  EXPECT_EQ(c.buffer_bytes, 256 << 20);
  EXPECT_EQ(c.enqueue_timeout_ms, 1000ms);
  EXPECT_EQ(c.shutdown_timeout_ms, 20000ms);
  EXPECT_FALSE(c.tls.enabled);
  EXPECT_EQ(c.listen.otlp_grpc, "127.0.0.1:4317");
  EXPECT_EQ(c.listen.otlp_http, "127.0.0.1:4318");
  EXPECT_EQ(c.listen.flight, "127.0.0.1:8815");
  EXPECT_EQ(c.listen.health, "127.0.0.1:8080");
  EXPECT_EQ(c.monitoring.metrics_port, 9090);
  EXPECT_EQ(c.monitoring.MetricsAddress(), "127.0.0.1:9090");
  EXPECT_EQ(c.monitoring.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.limits.max_request_bytes, 16 << 20);
  EXPECT_EQ(c.limits.max_decompressed_bytes, 64 << 20);
  EXPECT_EQ(c.limits.max_inflight_bytes, 256 << 20);
}

// The exporter, receiver and store keys default to their options structs, so that the
// service behaves as `send` and `receiver` do without a configuration.
TEST(ServiceConfigDefaults, FollowTheOptionsStructs) {
  const ServiceConfig c;
  const auto exporter = transport::FlightSpanExporterOptions::Defaults();
  EXPECT_EQ(c.endpoint, exporter.endpoint);
  EXPECT_EQ(c.batch_size, exporter.batch_size);
  EXPECT_EQ(c.max_batch_bytes, exporter.max_batch_bytes);
  EXPECT_EQ(c.max_retries, exporter.max_retries);
  EXPECT_EQ(c.retry_backoff_ms, exporter.initial_backoff);
  EXPECT_EQ(c.retry_max_backoff_ms, exporter.max_backoff);
  EXPECT_EQ(c.export_timeout_ms, exporter.timeout);
  EXPECT_EQ(c.compression, exporter.compression);

  const auto batching = pipeline::BatchingSpanExporterOptions::Defaults();
  EXPECT_EQ(c.flush_interval_ms, batching.flush_interval);
  EXPECT_EQ(c.buffer_size, batching.max_queue_spans);
  EXPECT_EQ(c.buffer_bytes, batching.max_queue_bytes);
  EXPECT_EQ(c.enqueue_timeout_ms, batching.max_enqueue_wait);

  const auto receiver = transport::FlightSpanReceiverOptions::Defaults();
  EXPECT_EQ("grpc://" + c.listen.flight, receiver.listen_uri);
  EXPECT_EQ(c.receiver.max_batch_bytes, receiver.max_batch_bytes);
  EXPECT_EQ(c.receiver.max_concurrent_streams, receiver.max_concurrent_streams);

  const auto store = storage::ParquetSpanStoreOptions::Defaults();
  EXPECT_EQ(c.receiver.data_dir, store.data_dir);
  EXPECT_EQ(c.receiver.durability, store.durability);
  EXPECT_EQ(c.receiver.max_file_bytes, store.max_file_bytes);
  EXPECT_EQ(c.receiver.max_file_age_ms, store.max_file_age);
  EXPECT_EQ(c.receiver.zstd_level, store.zstd_level);
  EXPECT_EQ(c.receiver.max_row_group_rows, store.max_row_group_rows);
}

// If a struct's default moves out of the range the configuration allows, the program
// would refuse its own defaults.
TEST(ServiceConfigDefaults, AreValid) {
  EXPECT_TRUE(ValidateServiceConfig(ServiceConfig::Defaults()).ok())
      << ValidateServiceConfig(ServiceConfig::Defaults()).ToString();
}

TEST(ServiceConfigDefaults, EmptyOrCommentOnlyFileMeansDefaults) {
  for (std::string_view yaml : {"", "\n\n", "# nothing here\n", "---\n", "~\n"}) {
    SCOPED_TRACE(yaml);
    EXPECT_EQ(LoadOrDie(yaml).config, ServiceConfig::Defaults());
  }
}

TEST(ServiceConfigDefaults, EmptySectionsMeanDefaults) {
  EXPECT_EQ(LoadOrDie("tls:\nreceiver:\n  tls: null\nmonitoring: {}\n").config,
            ServiceConfig::Defaults());
}

// --- every key from a file ---------------------------------------------------------

TEST(ServiceConfigFile, ReadsEveryKey) {
  const LoadedServiceConfig loaded = LoadOrDie(kEveryKey);
  const ServiceConfig& c = loaded.config;
  EXPECT_EQ(c.endpoint, "grpc+tls://collector.example:9443");
  EXPECT_EQ(c.batch_size, 500);
  EXPECT_EQ(c.flush_interval_ms, 250ms);
  EXPECT_EQ(c.buffer_size, 5000);
  EXPECT_EQ(c.buffer_bytes, 64 << 20);
  EXPECT_EQ(c.enqueue_timeout_ms, 0ms);
  EXPECT_EQ(c.max_batch_bytes, 1 << 20);
  EXPECT_EQ(c.max_span_bytes, 8 << 20);
  EXPECT_EQ(c.max_retries, 7);
  EXPECT_EQ(c.retry_backoff_ms, 50ms);
  EXPECT_EQ(c.retry_max_backoff_ms, 2000ms);
  EXPECT_EQ(c.export_timeout_ms, 15000ms);
  EXPECT_EQ(c.compression, transport::FlightCompression::kLz4);
  EXPECT_EQ(c.shutdown_timeout_ms, 5000ms);
  EXPECT_TRUE(c.tls.enabled);
  EXPECT_EQ(c.tls.cert_path, "/etc/otlp-arrow/client.pem");
  EXPECT_EQ(c.tls.key_path, "/etc/otlp-arrow/client.key");
  EXPECT_EQ(c.tls.ca_path, "/etc/otlp-arrow/ca.pem");
  EXPECT_EQ(c.tls.server_name, "receiver.internal");
  EXPECT_EQ(c.auth.token_file, "/run/secrets/token");
  EXPECT_EQ(c.listen.otlp_grpc, "0.0.0.0:14317");
  EXPECT_EQ(c.listen.otlp_http, "[::1]:14318");
  EXPECT_EQ(c.listen.flight, "0.0.0.0:18815");
  EXPECT_EQ(c.listen.health, "0.0.0.0:18080");
  EXPECT_EQ(c.otlp.tls.cert_path, "/etc/otlp-arrow/otlp.pem");
  EXPECT_EQ(c.otlp.tls.key_path, "/etc/otlp-arrow/otlp.key");
  EXPECT_EQ(c.otlp.tls.client_ca_path, "/etc/otlp-arrow/sdk-ca.pem");
  EXPECT_EQ(c.otlp.grpc_threads, 32);
  EXPECT_EQ(c.listen.otap, "0.0.0.0:14319");
  EXPECT_EQ(c.otlp.max_otap_streams, 8);
  EXPECT_EQ(c.otlp.otap_max_stream_dictionary_bytes, int64_t{64} << 20);
  EXPECT_EQ(c.monitoring.metrics_port, 19090);
  EXPECT_EQ(c.monitoring.metrics_host, "0.0.0.0");
  EXPECT_TRUE(c.monitoring.verbose_logging);
  EXPECT_EQ(c.monitoring.log_level, LogLevel::kWarn);
  EXPECT_EQ(c.limits.max_request_bytes, 2 << 20);
  EXPECT_EQ(c.limits.max_decompressed_bytes, 8 << 20);
  EXPECT_EQ(c.limits.max_inflight_bytes, 96 << 20);
  EXPECT_EQ(c.receiver.data_dir, "/var/lib/otlp-arrow");
  EXPECT_EQ(c.receiver.durability, storage::WalDurability::kFlushToOs);
  EXPECT_EQ(c.receiver.max_file_bytes, 32 << 20);
  EXPECT_EQ(c.receiver.max_file_age_ms, 10000ms);
  EXPECT_EQ(c.receiver.zstd_level, 9);
  EXPECT_EQ(c.receiver.max_row_group_rows, 65536);
  EXPECT_EQ(c.receiver.max_batch_bytes, 16 << 20);
  EXPECT_EQ(c.receiver.max_concurrent_streams, 64);
  EXPECT_EQ(c.receiver.max_streams_per_client, 4);
  EXPECT_EQ(c.receiver.max_decoded_bytes_in_flight, 96 << 20);
  EXPECT_EQ(c.receiver.stream_idle_timeout_ms, 5000ms);
  EXPECT_EQ(c.receiver.tls.cert_path, "/etc/otlp-arrow/server.pem");
  EXPECT_EQ(c.receiver.tls.key_path, "/etc/otlp-arrow/server.key");
  EXPECT_EQ(c.receiver.tls.client_ca_path, "/etc/otlp-arrow/clients.pem");
  EXPECT_THAT(loaded.warnings, IsEmpty());
}

// Guards the test above against a key added to the table but not to kEveryKey, and the
// table against a key whose kind does not match its field.
TEST(ServiceConfigFile, EveryKeyTestCoversEveryKeyWithANonDefaultValue) {
  const LoadedServiceConfig loaded = LoadOrDie(kEveryKey);
  const ServiceConfig defaults;
  for (const internal::KeySpec& spec : internal::Keys()) {
    SCOPED_TRACE(spec.key);
    EXPECT_EQ(loaded.origins.count(std::string(spec.key)), 1u);
    EXPECT_NE(internal::FormatValue(spec, loaded.config, false),
              internal::FormatValue(spec, defaults, false));
  }
}

TEST(ServiceConfigFile, OriginsNameFileLineAndColumn) {
  const LoadedServiceConfig loaded = LoadOrDie(kEveryKey);
  EXPECT_EQ(loaded.origins.at("endpoint"), "test.yaml:2:11");
  EXPECT_EQ(loaded.origins.at("receiver.tls.client_ca_path"), "test.yaml:63:21");
}

// The design document's ConfigMap (k8s/deployment.yaml), verbatim.
TEST(ServiceConfigFile, SeedConfigMapLoads) {
  const LoadedServiceConfig loaded =
      LoadOrDie(R"(endpoint: "http://arrow-flight-service:8815"
batch_size: 1000
flush_interval_ms: 5000
buffer_size: 10000
)");
  const ServiceConfig& c = loaded.config;
  EXPECT_EQ(c.endpoint, "grpc://arrow-flight-service:8815");
  EXPECT_EQ(c.batch_size, 1000);
  EXPECT_EQ(c.flush_interval_ms, 5000ms);
  EXPECT_EQ(c.buffer_size, 10000);
  EXPECT_FALSE(c.tls.enabled);
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_THAT(loaded.warnings[0],
              AllOf(StartsWith("test.yaml:1:11: endpoint: "),
                    HasSubstr("\"http://arrow-flight-service:8815\" taken as "
                              "\"grpc://arrow-flight-service:8815\"")));
}

// The seed's ProductionConfig with all its fields, as serde_yaml would write it.
TEST(ServiceConfigFile, SeedProductionConfigLoads) {
  const ServiceConfig c = LoadOrDie(R"(endpoint: https://arrow-flight-service:8815
batch_size: 1000
flush_interval_ms: 5000
buffer_size: 10000
max_retries: 3
retry_backoff_ms: 1000
tls:
  enabled: true
  cert_path: /certs/client.pem
  key_path: /certs/client.key
  ca_path: null
monitoring:
  metrics_port: 9090
  verbose_logging: false
)")
                              .config;
  EXPECT_EQ(c.endpoint, "grpc+tls://arrow-flight-service:8815");
  EXPECT_TRUE(c.tls.enabled);
  EXPECT_EQ(c.tls.ca_path, "");
  EXPECT_EQ(c.max_retries, 3);
  EXPECT_EQ(c.retry_backoff_ms, 1000ms);
}

TEST(ServiceConfigFile, TlsEnabledTurnsAPlainEndpointIntoTls) {
  const ServiceConfig c =
      LoadOrDie("endpoint: grpc://collector:8815\ntls: {enabled: true}\n").config;
  EXPECT_EQ(c.endpoint, "grpc+tls://collector:8815");
  EXPECT_TRUE(c.tls.enabled);
}

TEST(ServiceConfigFile, ScalarSpellings) {
  const ServiceConfig c = LoadOrDie(R"(
batch_size: "1000"
buffer_bytes: 2GiB
compression: ZSTD
tls: {enabled: "yes"}
monitoring: {log_level: WARNING, verbose_logging: on}
receiver: {durability: FSYNC}
)")
                              .config;
  EXPECT_EQ(c.batch_size, 1000);
  EXPECT_EQ(c.buffer_bytes, int64_t{2} << 30);
  EXPECT_EQ(c.compression, transport::FlightCompression::kZstd);
  EXPECT_TRUE(c.tls.enabled);
  EXPECT_EQ(c.monitoring.log_level, LogLevel::kWarn);
  EXPECT_EQ(c.monitoring.EffectiveLogLevel(), LogLevel::kDebug);
}

TEST(ServiceConfigFile, LogLevels) {
  for (const auto& [text, level] :
       std::map<std::string, LogLevel>{{"trace", LogLevel::kTrace},
                                       {"debug", LogLevel::kDebug},
                                       {"info", LogLevel::kInfo},
                                       {"warn", LogLevel::kWarn},
                                       {"error", LogLevel::kError},
                                       {"off", LogLevel::kOff}}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(
        LoadOrDie("monitoring: {log_level: " + text + "}\n").config.monitoring.log_level,
        level);
    EXPECT_EQ(ToString(level), text);
  }
  MonitoringConfig verbose{.verbose_logging = true, .log_level = LogLevel::kTrace};
  EXPECT_EQ(verbose.EffectiveLogLevel(), LogLevel::kTrace);
  verbose.log_level = LogLevel::kError;
  EXPECT_EQ(verbose.EffectiveLogLevel(), LogLevel::kDebug);
}

// --- sources and precedence --------------------------------------------------------

TEST(ServiceConfigSources, PrecedenceFlagsOverEnvironmentOverFileOverDefaults) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.config_path = dir.Write("config.yaml", R"(batch_size: 100
buffer_size: 1000
flush_interval_ms: 10
receiver: {data_dir: /from/file}
)");
  sources.environment = Environment{{"BATCH_SIZE", "200"},
                                    {"FLUSH_INTERVAL_MS", "20"},
                                    {"OTLP_ARROW_RECEIVER_DATA_DIR", "/from/env"}};
  sources.flags = {{"batch_size", "300"},
                   {"receiver.data_dir", {"/from/flag", "--data-dir"}}};

  auto loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.batch_size, 300);                             // flag
  EXPECT_EQ(loaded->config.receiver.data_dir, "/from/flag");             // flag
  EXPECT_EQ(loaded->config.flush_interval_ms, 20ms);                     // environment
  EXPECT_EQ(loaded->config.buffer_size, 1000);                           // file
  EXPECT_EQ(loaded->config.buffer_bytes, ServiceConfig{}.buffer_bytes);  // default
  EXPECT_EQ(loaded->origins.at("batch_size"), "flag --set batch_size=300");
  EXPECT_EQ(loaded->origins.at("receiver.data_dir"), "flag --data-dir");
  EXPECT_EQ(loaded->origins.at("flush_interval_ms"),
            "environment variable FLUSH_INTERVAL_MS");
  EXPECT_EQ(loaded->origins.at("buffer_size"), sources.config_path.value() + ":2:14");
  EXPECT_EQ(loaded->origins.count("buffer_bytes"), 0u);

  sources.flags.clear();
  loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.batch_size, 200);
  EXPECT_EQ(loaded->config.receiver.data_dir, "/from/env");

  sources.environment->clear();
  loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.batch_size, 100);
  EXPECT_EQ(loaded->config.flush_interval_ms, 10ms);
  EXPECT_EQ(loaded->config.receiver.data_dir, "/from/file");

  sources.config_path.reset();
  loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config, ServiceConfig::Defaults());
}

TEST(ServiceConfigSources, SeedEnvironmentVariables) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.environment =
      Environment{{"ARROW_FLIGHT_ENDPOINT", "http://arrow-flight-service:8815"},
                  {"BATCH_SIZE", "1000"},
                  {"FLUSH_INTERVAL_MS", "5000"},
                  {"BUFFER_SIZE", "10000"},
                  {"OTLP_ARROW_LOG", "debug"},
                  {"OTLP_ARROW_COMPRESSION", "none"},
                  {"OTLP_ARROW_LISTEN_OTLP_GRPC", "0.0.0.0:4317"}};
  auto loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.endpoint, "grpc://arrow-flight-service:8815");
  EXPECT_EQ(loaded->config.batch_size, 1000);
  EXPECT_EQ(loaded->config.flush_interval_ms, 5000ms);
  EXPECT_EQ(loaded->config.buffer_size, 10000);
  EXPECT_EQ(loaded->config.monitoring.log_level, LogLevel::kDebug);
  EXPECT_EQ(loaded->config.compression, transport::FlightCompression::kNone);
  EXPECT_EQ(loaded->config.listen.otlp_grpc, "0.0.0.0:4317");
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_THAT(loaded->warnings[0],
              StartsWith("environment variable ARROW_FLIGHT_ENDPOINT: endpoint: "));
}

// As in the OpenTelemetry SDKs: `BATCH_SIZE=` is unset, not an error.
TEST(ServiceConfigSources, EmptyEnvironmentVariableIsUnset) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.environment = Environment{{"BATCH_SIZE", ""}, {"OTLP_ARROW_LOG", ""}};
  auto loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config, ServiceConfig::Defaults());
}

TEST(ServiceConfigSources, UnknownPrefixedEnvironmentVariableWarns) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.environment = Environment{{"OTLP_ARROW_BATCH_SIZE", "5"},
                                    {"OTLP_ARROW_MONITORING_LOG_LEVEL", "debug"},
                                    {"OTLP_ARROW_RECEIVER_DATA_DRI", "/x"},
                                    {"UNRELATED", "1"}};
  auto loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config, ServiceConfig::Defaults());
  EXPECT_THAT(
      loaded->warnings,
      ElementsAre(
          "environment variable OTLP_ARROW_BATCH_SIZE: not a configuration variable, "
          "ignored; did you mean BATCH_SIZE?",
          "environment variable OTLP_ARROW_MONITORING_LOG_LEVEL: not a configuration "
          "variable, ignored; did you mean OTLP_ARROW_LOG?",
          "environment variable OTLP_ARROW_RECEIVER_DATA_DRI: not a configuration "
          "variable, ignored; did you mean OTLP_ARROW_RECEIVER_DATA_DIR?"));
}

TEST(ServiceConfigSources, EveryKeyHasItsOwnEnvironmentVariable) {
  std::set<std::string> names;
  for (const ConfigKeyInfo& key : ConfigKeys()) {
    EXPECT_TRUE(names.insert(key.env_var).second) << key.env_var;
  }
  EXPECT_EQ(names.count(std::string(kConfigPathEnvVar)), 0u);
}

TEST(ServiceConfigSources, ProcessEnvironmentByDefault) {
  TempDir dir;
  ASSERT_EQ(setenv("BUFFER_SIZE", "77777", 1), 0);
  EXPECT_EQ(ProcessEnvironment().at("BUFFER_SIZE"), "77777");
  ConfigSources sources;
  sources.default_config_path = dir.Path("absent.yaml");
  auto loaded = LoadServiceConfig(sources);
  unsetenv("BUFFER_SIZE");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->config.buffer_size, 77777);
}

TEST(ServiceConfigSources, FileChoice) {
  TempDir dir;
  const std::string explicit_file = dir.Write("explicit.yaml", "batch_size: 1\n");
  const std::string env_file = dir.Write("env.yaml", "batch_size: 2\n");
  const std::string default_file = dir.Write("default.yaml", "batch_size: 3\n");
  ConfigSources sources = IsolatedSources(dir);
  sources.default_config_path = default_file;
  sources.environment = Environment{{"OTLP_ARROW_CONFIG", env_file}};
  sources.config_path = explicit_file;
  const auto batch_size = [](const ConfigSources& s) {
    auto loaded = LoadServiceConfig(s);
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return loaded.ok() ? std::make_pair(loaded->config.batch_size, loaded->config_file)
                       : std::make_pair(int64_t{-1}, std::string());
  };
  EXPECT_EQ(batch_size(sources), std::make_pair(int64_t{1}, explicit_file));
  sources.config_path.reset();
  EXPECT_EQ(batch_size(sources), std::make_pair(int64_t{2}, env_file));
  sources.environment->clear();
  EXPECT_EQ(batch_size(sources), std::make_pair(int64_t{3}, default_file));
  sources.default_config_path = dir.Path("absent.yaml");
  EXPECT_EQ(batch_size(sources),
            std::make_pair(ServiceConfig{}.batch_size, std::string()));
}

TEST(ServiceConfigSources, NamedFileMustExist) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.config_path = dir.Path("missing.yaml");
  EXPECT_THAT(LoadError(sources),
              AllOf(StartsWith("IOError: config file: cannot read '"),
                    HasSubstr("missing.yaml': No such file or directory")));
  sources.config_path.reset();
  sources.environment = Environment{{"OTLP_ARROW_CONFIG", dir.Path("missing-too.yaml")}};
  EXPECT_THAT(LoadError(sources), HasSubstr("missing-too.yaml': No such file"));
  sources.environment->clear();
  sources.config_path = dir.Path("");
  EXPECT_THAT(LoadError(sources), HasSubstr("it is a directory"));
}

// --- errors ------------------------------------------------------------------------

TEST(ServiceConfigErrors, UnknownKeyWithSuggestion) {
  EXPECT_EQ(ErrorOf("endpoint: grpc://a:1\nbatch_sise: 10\n"),
            "test.yaml:2:1: batch_sise: unknown key; did you mean batch_size?");
  EXPECT_EQ(ErrorOf("tls:\n  enabled: true\n  cert: /c.pem\n"),
            "test.yaml:3:3: tls.cert: unknown key; did you mean tls.cert_path?");
  EXPECT_EQ(ErrorOf("log_level: debug\n"),
            "test.yaml:1:1: log_level: unknown key; did you mean monitoring.log_level?");
  EXPECT_EQ(ErrorOf("monitor:\n  metrics_port: 1\n"),
            "test.yaml:1:1: monitor: unknown key; did you mean monitoring?");
  EXPECT_EQ(ErrorOf("something_else: 1\n"), "test.yaml:1:1: something_else: unknown key");
}

TEST(ServiceConfigErrors, WrongType) {
  EXPECT_EQ(ErrorOf("endpoint: grpc://a:1\nbatch_size: \"ten\"\n"),
            "test.yaml:2:13: batch_size: expected an integer, got \"ten\"");
  EXPECT_EQ(ErrorOf("batch_size:\n  value: 10\n"),
            "test.yaml:2:3: batch_size: expected an integer, got a map");
  EXPECT_EQ(ErrorOf("batch_size: [1, 2]\n"),
            "test.yaml:1:13: batch_size: expected an integer, got a list");
  EXPECT_EQ(ErrorOf("batch_size:\n"),
            "test.yaml:1:1: batch_size: expected an integer, got no value");
  EXPECT_EQ(ErrorOf("tls: true\n"),
            "test.yaml:1:6: tls: expected a map of tls.* keys, got a single value");
  EXPECT_EQ(ErrorOf("tls:\n  enabled: maybe\n"),
            "test.yaml:2:12: tls.enabled: expected true or false, got \"maybe\"");
  EXPECT_EQ(ErrorOf("compression: gzip\n"),
            "test.yaml:1:14: compression: expected one of none|lz4|zstd, got \"gzip\"");
  EXPECT_EQ(ErrorOf("monitoring: {log_level: verbose}\n"),
            "test.yaml:1:25: monitoring.log_level: expected one of "
            "trace|debug|info|warn|error|off, got \"verbose\"");
  EXPECT_EQ(ErrorOf("buffer_bytes: 10MB\n"),
            "test.yaml:1:15: buffer_bytes: expected a size in bytes with no unit or one "
            "of KiB, MiB, GiB, TiB, got \"10MB\"");
  EXPECT_EQ(ErrorOf("- batch_size: 1\n"),
            "test.yaml:1:1: expected a map of configuration keys, got a list");
}

TEST(ServiceConfigErrors, OutOfRange) {
  EXPECT_EQ(ErrorOf("batch_size: 0\n"),
            "test.yaml:1:13: batch_size: 0 is out of range 1..1000000");
  EXPECT_EQ(ErrorOf("flush_interval_ms: 3600001\n"),
            "test.yaml:1:20: flush_interval_ms: 3600001 is out of range 1..3600000");
  EXPECT_EQ(ErrorOf("max_retries: -1\n"),
            "test.yaml:1:14: max_retries: -1 is out of range 0..100");
  EXPECT_EQ(ErrorOf("monitoring:\n  metrics_port: 65536\n"),
            "test.yaml:2:17: monitoring.metrics_port: 65536 is out of range 0..65535");
  EXPECT_EQ(ErrorOf("batch_size: 99999999999999999999\n"),
            "test.yaml:1:13: batch_size: integer \"99999999999999999999\" is too large");
  EXPECT_EQ(ErrorOf("receiver: {data_dir: \"\"}\n"),
            "test.yaml:1:22: receiver.data_dir: must not be empty");
}

TEST(ServiceConfigErrors, BadAddresses) {
  EXPECT_EQ(ErrorOf("listen:\n  otlp_grpc: localhost\n"),
            "test.yaml:2:14: listen.otlp_grpc: expected host:port (e.g. 127.0.0.1:4317), "
            "got \"localhost\": no port");
  EXPECT_EQ(
      ErrorOf("listen: {otlp_http: \":4318\"}\n"),
      "test.yaml:1:21: listen.otlp_http: expected host:port, got \":4318\": no host "
      "(0.0.0.0 listens on every interface)");
  EXPECT_EQ(ErrorOf("listen: {flight: \"0.0.0.0:88150\"}\n"),
            "test.yaml:1:18: listen.flight: port 88150 in \"0.0.0.0:88150\" is not in "
            "0..65535");
  EXPECT_EQ(
      ErrorOf("listen: {health: \"::1:8080\"}\n"),
      "test.yaml:1:18: listen.health: expected host:port, got \"::1:8080\": an IPv6 "
      "host needs brackets, as in [::1]:4317");
  EXPECT_EQ(
      ErrorOf("listen: {health: \"bad host:8080\"}\n"),
      "test.yaml:1:18: listen.health: host \"bad host\" is not a host name or an IP "
      "address");
  EXPECT_EQ(ErrorOf("monitoring: {metrics_host: \"\"}\n"),
            "test.yaml:1:28: monitoring.metrics_host: the host is empty");
}

TEST(ServiceConfigErrors, BadEndpoints) {
  EXPECT_EQ(ErrorOf("endpoint: collector:8815\n"),
            "test.yaml:1:11: endpoint: expected a URI such as grpc://host:port, got "
            "\"collector:8815\" (add grpc:// or grpc+tls://)");
  EXPECT_EQ(ErrorOf("endpoint: ftp://collector:8815\n"),
            "test.yaml:1:11: endpoint: scheme \"ftp\" of \"ftp://collector:8815\" is not "
            "one of grpc, grpc+tcp, grpc+tls, grpc+unix (or http, https)");
  EXPECT_EQ(ErrorOf("endpoint: grpc://collector\n"),
            "test.yaml:1:11: endpoint: endpoint \"grpc://collector\": expected host:port "
            "(e.g. collector:8815), got \"collector\": no port");
  EXPECT_EQ(ErrorOf("endpoint: grpc://collector:0\n"),
            "test.yaml:1:11: endpoint: endpoint \"grpc://collector:0\": port 0 in "
            "\"collector:0\" is not in 1..65535");
  EXPECT_EQ(
      ErrorOf("endpoint: http://collector:8815/v1/traces\n"),
      "test.yaml:1:11: endpoint: expected http://host:port, got "
      "\"http://collector:8815/v1/traces\": a Flight endpoint has no path, query or "
      "user");
  EXPECT_EQ(ErrorOf("endpoint: grpc+unix://relative\n"),
            "test.yaml:1:11: endpoint: expected grpc+unix:///absolute/path, got "
            "\"grpc+unix://relative\"");
  EXPECT_EQ(LoadOrDie("endpoint: grpc+unix:///run/otlp-arrow.sock\n").config.endpoint,
            "grpc+unix:///run/otlp-arrow.sock");
  EXPECT_EQ(LoadOrDie("endpoint: GRPC://[::1]:8815/\n").config.endpoint,
            "grpc://[::1]:8815");
}

TEST(ServiceConfigErrors, CrossFieldRules) {
  EXPECT_EQ(ErrorOf("batch_size: 2000\nbuffer_size: 1000\n"),
            "test.yaml:2:14: buffer_size 1000 is less than batch_size 2000 "
            "(test.yaml:1:13); the queue must hold a whole batch");
  // Only batch_size was set: the message points there.
  EXPECT_EQ(ErrorOf("batch_size: 100000\n"),
            "test.yaml:1:13: buffer_size 65536 is less than batch_size 100000 "
            "(test.yaml:1:13); the queue must hold a whole batch");
  EXPECT_EQ(
      ErrorOf("retry_backoff_ms: 6000\n"),
      "test.yaml:1:19: retry_backoff_ms 6000 is more than retry_max_backoff_ms 5000 "
      "(default)");
  EXPECT_EQ(ErrorOf("limits: {max_inflight_bytes: 64MiB}\n"),
            "test.yaml:1:30: limits.max_inflight_bytes 67108864 is less than 6 × "
            "limits.max_request_bytes 16777216 (default); a request of the largest size "
            "could never be decoded");
  EXPECT_EQ(ErrorOf("limits: {max_decompressed_bytes: 1MiB}\n"),
            "test.yaml:1:34: limits.max_decompressed_bytes 1048576 is less than "
            "limits.max_request_bytes 16777216 (default); an uncompressed request that "
            "fits the one would fail the other");
  // What the gateway acknowledges, the receiver must take (issue #13).
  EXPECT_EQ(ErrorOf("max_span_bytes: 62MiB\n"),
            "test.yaml:1:17: max_batch_bytes 4194304 (default) + max_span_bytes 65011712 "
            "(test.yaml:1:17) is more than receiver.max_batch_bytes 67108864 (default); "
            "the receiver would refuse spans the gateway acknowledged");
  EXPECT_EQ(ErrorOf("receiver: {max_batch_bytes: 16MiB}\n"),
            "test.yaml:1:29: max_batch_bytes 4194304 (default) + max_span_bytes 33554432 "
            "(default) is more than receiver.max_batch_bytes 16777216 (test.yaml:1:29); "
            "the receiver would refuse spans the gateway acknowledged");
  EXPECT_EQ(ErrorOf("endpoint: grpc+tls://a:1\ntls:\n  cert_path: /c.pem\n"),
            "test.yaml:3:14: tls.cert_path is set but tls.key_path is not; mutual TLS "
            "needs both");
  EXPECT_EQ(ErrorOf("tls:\n  ca_path: /ca.pem\n"),
            "test.yaml:2:12: tls.ca_path is set but TLS is off (endpoint "
            "\"grpc://127.0.0.1:8815\", tls.enabled false); set tls.enabled: true or use "
            "a grpc+tls:// endpoint");
  EXPECT_EQ(ErrorOf("endpoint: grpc+tls://a:1\ntls: {enabled: false}\n"),
            "test.yaml:2:16: tls.enabled: false, but endpoint \"grpc+tls://a:1\" "
            "(test.yaml:1:11) uses TLS");
  EXPECT_EQ(
      ErrorOf("endpoint: grpc+unix:///s\ntls: {enabled: true}\n"),
      "test.yaml:2:16: tls.enabled: true, but endpoint \"grpc+unix:///s\" is a Unix "
      "socket, which Flight does not secure with TLS");
  EXPECT_EQ(ErrorOf("receiver:\n  tls:\n    key_path: /k.pem\n"),
            "test.yaml:3:15: receiver.tls.key_path is set but receiver.tls.cert_path is "
            "not; a TLS server needs both");
  EXPECT_EQ(ErrorOf("receiver:\n  tls:\n    client_ca_path: /ca.pem\n"),
            "test.yaml:3:21: receiver.tls.client_ca_path is set but "
            "receiver.tls.cert_path is not; client certificates are checked over TLS "
            "only");
  EXPECT_EQ(ErrorOf("otlp:\n  tls:\n    cert_path: /c.pem\n"),
            "test.yaml:3:16: otlp.tls.cert_path is set but "
            "otlp.tls.key_path is not; a TLS server needs both");
  EXPECT_EQ(ErrorOf("otlp:\n  tls:\n    client_ca_path: /ca.pem\n"),
            "test.yaml:3:21: otlp.tls.client_ca_path is set but "
            "otlp.tls.cert_path is not; client certificates are checked over TLS "
            "only");
}

TEST(ServiceConfigErrors, ListenersOnOnePort) {
  EXPECT_EQ(ErrorOf("listen:\n  flight: 127.0.0.1:4317\n"),
            "test.yaml:2:11: listen.flight 127.0.0.1:4317 overlaps listen.otlp_grpc "
            "127.0.0.1:4317 (default); each listener needs its own port");
  EXPECT_EQ(ErrorOf("listen:\n  otlp_http: 0.0.0.0:4317\n"),
            "test.yaml:2:14: listen.otlp_http 0.0.0.0:4317 overlaps listen.otlp_grpc "
            "127.0.0.1:4317 (default); each listener needs its own port");
  EXPECT_THAT(ErrorOf("monitoring: {metrics_port: 8815}\n"),
              HasSubstr("monitoring.metrics_port 127.0.0.1:8815 overlaps listen.flight"));
  // Different hosts, port 0, and health with metrics (one HTTP listener) are fine.
  LoadOrDie("listen: {otlp_grpc: \"10.0.0.1:4317\", otlp_http: \"10.0.0.2:4317\"}\n");
  LoadOrDie("listen: {otlp_grpc: \"127.0.0.1:0\", otlp_http: \"127.0.0.1:0\"}\n");
  LoadOrDie("monitoring: {metrics_port: 8080}\n");
}

TEST(ServiceConfigErrors, YamlSyntax) {
  EXPECT_THAT(ErrorOf("batch_size: 1\nbuffer_size: [1, 2\n"),
              StartsWith("test.yaml:3:1: YAML syntax error: "));
  EXPECT_THAT(ErrorOf("batch_size: 1\n  buffer_size: 2\n"),
              StartsWith("test.yaml:2:14: YAML syntax error: "));
  EXPECT_EQ(ErrorOf("batch_size: 1\n---\nbatch_size: 2\n"),
            "test.yaml:3:1: a second YAML document; a configuration file holds one");
}

TEST(ServiceConfigErrors, OddYaml) {
  EXPECT_THAT(ErrorOf(std::string(5000, '[') + "\n"),
              StartsWith("test.yaml:2:1: YAML syntax error: "));
  EXPECT_EQ(ErrorOf("? [a, b]\n: 1\n"), "test.yaml:1:3: expected a key name, got a list");
  EXPECT_EQ(ErrorOf("<<: {batch_size: 5}\n"), "test.yaml:1:1: <<: unknown key");
  EXPECT_EQ(
      ErrorOf("tls: &t {enabled: true}\nreceiver:\n  tls: *t\n"),
      "test.yaml:1:10: receiver.tls.enabled: unknown key; did you mean tls.enabled?");
  EXPECT_EQ(LoadOrDie("\"batch_size\": !!str 5\n").config.batch_size, 5);
}

TEST(ServiceConfigErrors, RepeatedKey) {
  EXPECT_EQ(ErrorOf("batch_size: 1\nbuffer_size: 10\nbatch_size: 2\n"),
            "test.yaml:3:1: batch_size: repeated; first at line 1");
}

TEST(ServiceConfigErrors, EveryErrorIsReported) {
  EXPECT_EQ(ErrorOf("batch_size: ten\nflush_interval_ms: 0\nbogus: 1\n"),
            "3 configuration errors:\n"
            "  test.yaml:1:13: batch_size: expected an integer, got \"ten\"\n"
            "  test.yaml:2:20: flush_interval_ms: 0 is out of range 1..3600000\n"
            "  test.yaml:3:1: bogus: unknown key");
}

TEST(ServiceConfigErrors, EnvironmentErrorsNameTheVariable) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.environment =
      Environment{{"BATCH_SIZE", "ten"}, {"OTLP_ARROW_LISTEN_HEALTH", "8080"}};
  EXPECT_EQ(LoadError(sources),
            "Invalid: 2 configuration errors:\n"
            "  environment variable BATCH_SIZE: batch_size: expected an integer, got "
            "\"ten\"\n"
            "  environment variable OTLP_ARROW_LISTEN_HEALTH: listen.health: expected "
            "host:port (e.g. 127.0.0.1:4317), got \"8080\": no port");
}

TEST(ServiceConfigErrors, FlagErrorsNameTheFlag) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.flags = {{"batch_size", {"0", "--batch-size"}}};
  EXPECT_EQ(LoadError(sources),
            "Invalid: flag --batch-size: batch_size: 0 is out of range 1..1000000");
  sources.flags = {{"receiver.durabilty", "os"}};
  EXPECT_EQ(LoadError(sources),
            "Invalid: flag --set receiver.durabilty=os: receiver.durabilty: unknown key; "
            "did you mean receiver.durability?");
  sources.flags = {{"tls", "true"}};
  EXPECT_EQ(LoadError(sources),
            "Invalid: flag --set tls=true: tls: is a section; set one of its keys, such "
            "as tls.enabled");
  // A flag's value counts in the rules between keys, and the message points at it.
  sources.flags = {{"buffer_size", {"10", "--buffer-size"}}};
  EXPECT_EQ(LoadError(sources),
            "Invalid: flag --buffer-size: buffer_size 10 is less than batch_size 8192 "
            "(default); the queue must hold a whole batch");
}

TEST(ServiceConfigErrors, ValidateBuiltConfig) {
  ServiceConfig config;
  EXPECT_TRUE(ValidateServiceConfig(config).ok());
  config.batch_size = 0;
  EXPECT_EQ(ValidateServiceConfig(config).message(),
            "batch_size: 0 is out of range 1..1000000");
  config = ServiceConfig{.endpoint = "http://collector:8815"};
  EXPECT_EQ(ValidateServiceConfig(config).message(),
            "endpoint: write \"grpc://collector:8815\" rather than "
            "\"http://collector:8815\"");
  config = ServiceConfig{.buffer_size = 10};
  EXPECT_EQ(ValidateServiceConfig(config).message(),
            "buffer_size 10 is less than batch_size 8192; the queue must hold a whole "
            "batch");
}

// --- printing ----------------------------------------------------------------------

TEST(ServiceConfigYaml, DefaultsRoundTrip) {
  const std::string yaml = ToYaml(ServiceConfig::Defaults());
  const LoadedServiceConfig loaded = LoadOrDie(yaml);
  EXPECT_EQ(loaded.config, ServiceConfig::Defaults());
  EXPECT_EQ(loaded.origins.size(), internal::Keys().size()) << "every key is printed";
  EXPECT_THAT(loaded.warnings, IsEmpty());
}

TEST(ServiceConfigYaml, EveryKeyRoundTrips) {
  const ServiceConfig config = LoadOrDie(kEveryKey).config;
  EXPECT_EQ(LoadOrDie(ToYaml(config)).config, config);
}

TEST(ServiceConfigYaml, AwkwardStringsRoundTrip) {
  ServiceConfig config;
  config.receiver.data_dir = "/data/\"quoted\" \\ #not-a-comment: colon\ttab \x01 ünï";
  config.auth.token_file = "  leading and trailing spaces  ";
  config.tls.enabled = true;
  config.endpoint = "grpc+tls://[::1]:8815";
  config.tls.ca_path = "yes";                    // a word YAML 1.1 reads as a boolean
  config.monitoring.log_level = LogLevel::kOff;  // and another one
  const std::string yaml = ToYaml(config);
  EXPECT_EQ(LoadOrDie(yaml).config, config) << yaml;
}

TEST(ServiceConfigYaml, Layout) {
  const std::string yaml = ToYaml(ServiceConfig::Defaults());
  EXPECT_THAT(yaml,
              HasSubstr("\nendpoint: \"grpc://127.0.0.1:8815\"\nbatch_size: 8192\n"));
  EXPECT_THAT(yaml, HasSubstr("\ntls:\n  enabled: false\n  cert_path: \"\"\n"));
  EXPECT_THAT(
      yaml, HasSubstr("  stream_idle_timeout_ms: 30000\n  tls:\n    cert_path: \"\"\n"));
  EXPECT_THAT(yaml, HasSubstr("\n  log_level: \"info\"\n"));
}

TEST(ServiceConfigYaml, OriginsBecomeComments) {
  TempDir dir;
  ConfigSources sources = IsolatedSources(dir);
  sources.config_path = dir.Write("c.yaml", "batch_size: 100\n");
  sources.environment = Environment{{"BUFFER_SIZE", "1000"}};
  auto loaded = LoadServiceConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const std::string yaml = ToYaml(*loaded);
  EXPECT_THAT(yaml,
              HasSubstr("\nbatch_size: 100  # from " + *sources.config_path + ":1:13\n"));
  EXPECT_THAT(
      yaml, HasSubstr("\nbuffer_size: 1000  # from environment variable BUFFER_SIZE\n"));
  EXPECT_THAT(yaml, HasSubstr("\nflush_interval_ms: 1000\n"));
  EXPECT_EQ(LoadOrDie(yaml).config, loaded->config);
}

// --- config check ------------------------------------------------------------------

TEST(ConfigCheck, ValidFile) {
  TempDir dir;
  const std::string path =
      dir.Write("config.yaml", R"(endpoint: "http://arrow-flight-service:8815"
batch_size: 1000
flush_interval_ms: 5000
buffer_size: 10000
)");
  std::ostringstream out;
  EXPECT_EQ(RunConfigCheck(path, out), 0);
  EXPECT_EQ(
      out.str(),
      "config OK: " + path +
          "\n"
          "gateway: OTLP grpc 127.0.0.1:4317, http 127.0.0.1:4318 -> "
          "grpc://arrow-flight-service:8815 (batches of 1000 spans or 5000 ms, queue "
          "10000 spans / 256 MiB, zstd); receiver: flight 127.0.0.1:8815 -> ./data "
          "(fsync); health 127.0.0.1:8080, metrics 127.0.0.1:9090, log info\n"
          "warning: " +
          path +
          ":1:11: endpoint: \"http://arrow-flight-service:8815\" taken as "
          "\"grpc://arrow-flight-service:8815\" (Arrow Flight speaks gRPC; write "
          "grpc://)\n");
}

TEST(ConfigCheck, InvalidFile) {
  TempDir dir;
  const std::string path =
      dir.Write("config.yaml", "batch_size: 1000\nbuffer_size: ten\nbogus: 1\n");
  std::ostringstream out;
  EXPECT_EQ(RunConfigCheck(path, out), 1);
  EXPECT_EQ(out.str(), "config INVALID: " + path + "\n" + path +
                           ":2:14: buffer_size: expected an integer, got \"ten\"\n" +
                           path + ":3:1: bogus: unknown key\n");
}

TEST(ConfigCheck, MissingFile) {
  TempDir dir;
  std::ostringstream out;
  EXPECT_EQ(RunConfigCheck(dir.Path("nope.yaml"), out), 1);
  EXPECT_THAT(out.str(), AllOf(StartsWith("config INVALID: "),
                               HasSubstr("nope.yaml': No such file or directory")));
}

// The check looks at the file only: the environment of CI is not the service's.
TEST(ConfigCheck, IgnoresTheEnvironmentAndWarnsOfUnreadableFiles) {
  TempDir dir;
  const std::string token = dir.Write("token", "secret\n");
  const std::string path = dir.Write(
      "config.yaml", "auth: {token_file: " + token + "}\nreceiver:\n  tls: {cert_path: " +
                         dir.Path("missing.pem") + ", key_path: " + token + "}\n");
  ASSERT_EQ(setenv("BATCH_SIZE", "ten", 1), 0);
  std::ostringstream out;
  EXPECT_EQ(RunConfigCheck(path, out), 0);
  unsetenv("BATCH_SIZE");
  EXPECT_THAT(out.str(), HasSubstr("bearer token"));
  EXPECT_THAT(out.str(),
              HasSubstr("warning: receiver.tls.cert_path: '" + dir.Path("missing.pem") +
                        "' is not readable here; the service reads it when it "
                        "starts\n"));
  EXPECT_THAT(out.str(), Not(HasSubstr("auth.token_file")));
}

// --- options structs ---------------------------------------------------------------

// The options `role` would start with; the test fails on an error.
ComponentOptions OptionsOrDie(const ServiceConfig& config,
                              ServiceRole role = ServiceRole::kAllInOne) {
  auto options = MakeComponentOptions(config, role);
  EXPECT_TRUE(options.ok()) << options.status().ToString();
  return options.ok() ? *std::move(options) : ComponentOptions{};
}

TEST(ComponentOptions, Exporter) {
  TempDir dir;
  ServiceConfig config = LoadOrDie(kEveryKey).config;
  config.tls.cert_path = dir.Write("client.pem", "CLIENT CERT");
  config.tls.key_path = dir.Write("client.key", "CLIENT KEY");
  config.tls.ca_path = dir.Write("ca.pem", "CA");
  config.auth.token_file = dir.Write("token", "  s3cret\n");
  config.otlp.tls = {};
  const auto gateway = OptionsOrDie(config, ServiceRole::kGateway).gateway;
  ASSERT_TRUE(gateway.has_value());
  const auto& options = gateway->exporter;
  EXPECT_EQ(options.endpoint, "grpc+tls://collector.example:9443");
  EXPECT_EQ(options.timeout, 15000ms);
  EXPECT_EQ(options.compression, transport::FlightCompression::kLz4);
  EXPECT_EQ(options.tls_root_certs, "CA");
  EXPECT_EQ(options.tls_cert_chain, "CLIENT CERT");
  EXPECT_EQ(options.tls_private_key, "CLIENT KEY");
  EXPECT_EQ(options.tls_server_name_override, "receiver.internal");
  EXPECT_EQ(options.bearer_token, "s3cret");
  // A refused token is read again from the file (a rotated Secret).
  ASSERT_TRUE(options.reload_bearer_token);
  dir.Write("token", "rotated\n");
  auto reloaded = options.reload_bearer_token();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(*reloaded, "rotated");
  EXPECT_EQ(options.batch_size, 500);
  EXPECT_EQ(options.max_batch_bytes, 1 << 20);
  EXPECT_EQ(options.max_span_bytes, 8 << 20);
  EXPECT_EQ(options.max_retries, 7);
  EXPECT_EQ(options.initial_backoff, 50ms);
  EXPECT_EQ(options.max_backoff, 2000ms);
}

TEST(ComponentOptions, ExporterTlsFromTheEnabledFlagAlone) {
  ServiceConfig config;
  config.tls.enabled = true;  // built in code: the endpoint still says grpc://
  EXPECT_EQ(OptionsOrDie(config, ServiceRole::kGateway).gateway->exporter.endpoint,
            "grpc+tls://127.0.0.1:8815");
}

// All-in-one exports to its own receiver, whatever `endpoint` says.
TEST(ComponentOptions, AllInOneExportsToItsReceiver) {
  ServiceConfig config;
  config.endpoint = "grpc://collector.example:9443";
  config.listen.flight = "0.0.0.0:18815";
  EXPECT_EQ(OptionsOrDie(config).gateway->exporter.endpoint, "grpc://127.0.0.1:18815");
  EXPECT_EQ(OptionsOrDie(config, ServiceRole::kGateway).gateway->exporter.endpoint,
            "grpc://collector.example:9443");
}

TEST(ComponentOptions, BatchingIngestAndOtlpReceivers) {
  TempDir dir;
  ServiceConfig config = LoadOrDie(kEveryKey).config;
  config.tls = {};
  config.endpoint = "grpc://collector.example:9443";
  config.auth = {};
  config.otlp.tls.cert_path = dir.Write("otlp.pem", "OTLP CERT");
  config.otlp.tls.key_path = dir.Write("otlp.key", "OTLP KEY");
  config.otlp.tls.client_ca_path = dir.Write("sdk-ca.pem", "SDK CA");
  const auto gateway = OptionsOrDie(config, ServiceRole::kGateway).gateway;
  ASSERT_TRUE(gateway.has_value());
  EXPECT_EQ(gateway->batching.batch_size, 500);
  EXPECT_EQ(gateway->batching.flush_interval, 250ms);
  EXPECT_EQ(gateway->batching.max_queue_spans, 5000);
  EXPECT_EQ(gateway->batching.max_queue_bytes, 64 << 20);
  EXPECT_EQ(gateway->batching.max_enqueue_wait, 0ms);
  EXPECT_EQ(gateway->batching.initial_backoff, 50ms);
  EXPECT_EQ(gateway->batching.max_backoff, 2000ms);
  EXPECT_EQ(gateway->batching.shutdown_timeout, 5000ms);
  EXPECT_EQ(gateway->ingest.max_span_bytes, 8 << 20);
  EXPECT_EQ(gateway->request_budget_bytes, 96 << 20);
  const auto& grpc = gateway->otlp_grpc;
  EXPECT_EQ(grpc.endpoint, "0.0.0.0:14317");
  EXPECT_EQ(grpc.tls_cert_pem, "OTLP CERT");
  EXPECT_EQ(grpc.tls_key_pem, "OTLP KEY");
  EXPECT_EQ(grpc.client_ca_pem, "SDK CA");
  EXPECT_EQ(grpc.max_receive_message_bytes, 2 << 20);
  EXPECT_EQ(grpc.transport_memory_bytes, 96 << 20);
  EXPECT_EQ(grpc.num_threads, 32);
  const auto& http = gateway->otlp_http;
  EXPECT_EQ(http.endpoint, "[::1]:14318");
  EXPECT_EQ(http.tls_cert_pem, "OTLP CERT");
  EXPECT_EQ(http.client_ca_pem, "SDK CA");
  EXPECT_EQ(http.max_request_bytes, 2 << 20);
  EXPECT_EQ(http.max_decompressed_bytes, 8 << 20);
}

TEST(ComponentOptions, RolesBuildTheirOwnComponents) {
  const ServiceConfig config;
  const auto gateway = OptionsOrDie(config, ServiceRole::kGateway);
  EXPECT_TRUE(gateway.gateway.has_value());
  EXPECT_FALSE(gateway.receiver.has_value());
  const auto receiver = OptionsOrDie(config, ServiceRole::kReceiver);
  EXPECT_FALSE(receiver.gateway.has_value());
  EXPECT_TRUE(receiver.receiver.has_value());
  EXPECT_EQ(receiver.operations.health_address, "127.0.0.1:8080");
  EXPECT_EQ(receiver.operations.metrics_address, "127.0.0.1:9090");
}

TEST(ComponentOptions, UnreadableFilesNameTheKey) {
  TempDir dir;
  ServiceConfig config;
  config.auth.token_file = dir.Path("missing-token");
  auto gateway = MakeComponentOptions(config, ServiceRole::kGateway);
  ASSERT_FALSE(gateway.ok());
  EXPECT_THAT(gateway.status().ToString(),
              AllOf(StartsWith("IOError: auth.token_file: cannot read '"),
                    HasSubstr("missing-token': No such file or directory")));
  config.auth.token_file = dir.Write("blank-token", " \n");
  EXPECT_THAT(MakeComponentOptions(config, ServiceRole::kReceiver).status().ToString(),
              AllOf(StartsWith("Invalid: auth.token_file: '"), HasSubstr("' is empty")));
  config.auth.token_file.clear();
  config.receiver.tls.cert_path = dir.Path("missing.pem");
  config.receiver.tls.key_path = dir.Path("missing.key");
  EXPECT_THAT(MakeComponentOptions(config, ServiceRole::kReceiver).status().ToString(),
              StartsWith("IOError: receiver.tls.cert_path: cannot read '"));
  // A gateway has no use for the receiver's files.
  EXPECT_TRUE(MakeComponentOptions(config, ServiceRole::kGateway).ok());
  // `config check` and `--print-config` warn instead.
  auto checked =
      MakeComponentOptions(config, ServiceRole::kReceiver, FileMode::kReadIfPresent);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_THAT(checked->warnings, ElementsAre(StartsWith("receiver.tls.cert_path: '"),
                                             StartsWith("receiver.tls.key_path: '")));
}

TEST(ComponentOptions, RefusesAnInvalidConfig) {
  ServiceConfig config;
  config.batch_size = -1;
  EXPECT_EQ(MakeComponentOptions(config, ServiceRole::kGateway).status().ToString(),
            "Invalid: batch_size: -1 is out of range 1..1000000");
}

// A rule of a component that the key table does not know is still found: the options
// go through the component's Validate().
TEST(ComponentOptions, ComponentRulesApply) {
  ServiceConfig config;
  config.retry_backoff_ms = 0ms;  // out of the key's range, and the queue's rule
  EXPECT_THAT(MakeComponentOptions(config, ServiceRole::kGateway).status().ToString(),
              HasSubstr("retry_backoff_ms: 0 is out of range 1..600000"));
}

TEST(ComponentOptions, Receiver) {
  TempDir dir;
  ServiceConfig config = LoadOrDie(kEveryKey).config;
  config.receiver.tls.cert_path = dir.Write("server.pem", "SERVER CERT");
  config.receiver.tls.key_path = dir.Write("server.key", "SERVER KEY");
  config.receiver.tls.client_ca_path = dir.Write("clients.pem", "CLIENT CA");
  config.auth.token_file = dir.Write("token", "s3cret");
  const auto receiver = OptionsOrDie(config, ServiceRole::kReceiver).receiver;
  ASSERT_TRUE(receiver.has_value());
  const auto& options = receiver->flight;
  EXPECT_EQ(options.listen_uri, "grpc+tls://0.0.0.0:18815");
  EXPECT_EQ(options.tls_cert_pem, "SERVER CERT");
  EXPECT_EQ(options.tls_key_pem, "SERVER KEY");
  EXPECT_EQ(options.client_ca_pem, "CLIENT CA");
  EXPECT_EQ(options.bearer_token, std::optional<std::string>("s3cret"));
  EXPECT_EQ(options.max_batch_bytes, 16 << 20);
  EXPECT_EQ(options.max_concurrent_streams, 64);
  EXPECT_EQ(options.max_streams_per_client, 4);
  EXPECT_EQ(options.max_decoded_bytes_in_flight, 96 << 20);
  EXPECT_EQ(options.stream_idle_timeout, 5000ms);
  // listen.otap: the store's own gRPC port, secured as the Flight port is.
  ASSERT_TRUE(receiver->otap.has_value());
  EXPECT_EQ(receiver->otap->endpoint, "0.0.0.0:14319");
  EXPECT_EQ(receiver->otap->tls_cert_pem, "SERVER CERT");
  EXPECT_EQ(receiver->otap->client_ca_pem, "CLIENT CA");
  EXPECT_EQ(receiver->otap->bearer_token, "s3cret");
  EXPECT_EQ(receiver->otap->max_otap_streams, 8);
  EXPECT_EQ(receiver->otap->otap_max_stream_dictionary_bytes, int64_t{64} << 20);
  EXPECT_EQ(receiver->otap->otap_stream_idle_timeout, 45000ms);

  const auto plain = OptionsOrDie(ServiceConfig{}, ServiceRole::kReceiver).receiver;
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->otap.has_value());
  EXPECT_EQ(plain->flight.listen_uri,
            transport::FlightSpanReceiverOptions::Defaults().listen_uri);
  EXPECT_EQ(plain->flight.bearer_token, std::nullopt);
}

TEST(ComponentOptions, Store) {
  ServiceConfig config = LoadOrDie(kEveryKey).config;
  config.receiver.tls = {};
  config.auth = {};
  const auto receiver = OptionsOrDie(config, ServiceRole::kReceiver).receiver;
  ASSERT_TRUE(receiver.has_value());
  const auto& options = receiver->store;
  EXPECT_EQ(options.data_dir, "/var/lib/otlp-arrow");
  EXPECT_EQ(options.durability, storage::WalDurability::kFlushToOs);
  EXPECT_EQ(options.max_file_bytes, 32 << 20);
  EXPECT_EQ(options.max_file_age, 10000ms);
  EXPECT_EQ(options.zstd_level, 9);
  EXPECT_EQ(options.max_row_group_rows, 65536);
  const auto defaults = storage::ParquetSpanStoreOptions::Defaults();
  EXPECT_EQ(options.dictionary_encoding, defaults.dictionary_encoding);
  EXPECT_EQ(options.flush_before_scan, defaults.flush_before_scan);
}

// --- config check and start-up agree -----------------------------------------------

// A configuration file and whether it must be accepted. `{pem}` stands for a readable
// PEM file, `{blank}` for a readable file holding only white space.
struct EdgeCase {
  std::string yaml;
  bool accepted;
};

void PrintTo(const EdgeCase& edge, std::ostream* out) {
  *out << (edge.accepted ? "accepted: " : "refused: ") << edge.yaml;
}

class ConfigCheckAgreesWithStartUp : public ::testing::TestWithParam<EdgeCase> {};

// `config check FILE` accepts exactly the files every subcommand starts with: the
// options each component would start with pass its own Validate().
TEST_P(ConfigCheckAgreesWithStartUp, BothAcceptOrBothRefuse) {
  TempDir dir;
  std::string yaml = GetParam().yaml;
  for (const auto& [placeholder, content] :
       {std::pair<std::string, std::string>{"{pem}", "PEM"}, {"{blank}", " \n"}}) {
    const std::string file =
        dir.Write(placeholder.substr(1, placeholder.size() - 2), content);
    for (auto at = yaml.find(placeholder); at != std::string::npos;
         at = yaml.find(placeholder)) {
      yaml.replace(at, placeholder.size(), file);
    }
  }
  const std::string path = dir.Write("config.yaml", yaml);

  std::ostringstream check_output;
  const bool check_accepts = RunConfigCheck(path, check_output) == 0;

  // What `otlp-arrow <role> --config FILE` does before it starts anything.
  std::string start_errors;
  ConfigSources sources = IsolatedSources(dir);
  sources.config_path = path;
  auto loaded = LoadServiceConfig(sources);
  if (!loaded.ok()) {
    start_errors = loaded.status().ToString();
  } else {
    for (ServiceRole role :
         {ServiceRole::kGateway, ServiceRole::kReceiver, ServiceRole::kAllInOne}) {
      auto options = MakeComponentOptions(loaded->config, role, FileMode::kRead);
      if (!options.ok()) {
        start_errors += std::string(ToString(role)) + ": " + options.status().ToString();
      }
    }
  }
  const bool start_accepts = start_errors.empty();

  EXPECT_EQ(check_accepts, start_accepts)
      << "config check:\n"
      << check_output.str() << "start-up: " << start_errors;
  EXPECT_EQ(check_accepts, GetParam().accepted) << check_output.str();
}

INSTANTIATE_TEST_SUITE_P(
    EdgeValues, ConfigCheckAgreesWithStartUp,
    ::testing::Values(
        EdgeCase{"", true},
        // The queue's backoff rule (0 < initial_backoff) that `config check` missed.
        EdgeCase{"retry_backoff_ms: 0\n", false},
        EdgeCase{"retry_max_backoff_ms: 0\nretry_backoff_ms: 0\n", false},
        EdgeCase{"retry_backoff_ms: 1\n", true},
        EdgeCase{"retry_backoff_ms: 600000\nretry_max_backoff_ms: 600000\n", true},
        EdgeCase{"retry_backoff_ms: 200\nretry_max_backoff_ms: 100\n", false},
        EdgeCase{"retry_backoff_ms: -1\n", false}, EdgeCase{"batch_size: 0\n", false},
        EdgeCase{"batch_size: -1\n", false},
        EdgeCase{"batch_size: 1\nbuffer_size: 1\n", true},
        EdgeCase{"batch_size: 1000000\nbuffer_size: 1000000\n", true},
        EdgeCase{"batch_size: 1000001\nbuffer_size: 100000000\n", false},
        EdgeCase{"batch_size: 99999999999999999999\n", false},
        EdgeCase{"batch_size: 100\nbuffer_size: 99\n", false},
        EdgeCase{"buffer_size: 100000000\n", true},
        EdgeCase{"flush_interval_ms: 0\n", false},
        EdgeCase{"flush_interval_ms: 3600000\n", true},
        EdgeCase{"buffer_bytes: 0\n", false}, EdgeCase{"buffer_bytes: 64GiB\n", true},
        EdgeCase{"enqueue_timeout_ms: 0\n", true},
        EdgeCase{"enqueue_timeout_ms: -1\n", false}, EdgeCase{"max_retries: 0\n", true},
        EdgeCase{"max_retries: -1\n", false}, EdgeCase{"export_timeout_ms: 0\n", true},
        EdgeCase{"shutdown_timeout_ms: 0\n", true},
        EdgeCase{"max_span_bytes: 1KiB\n", true},
        // A chunk and a span of the largest sizes must fit the receiver's limit.
        EdgeCase{"max_batch_bytes: 1GiB\n", false},
        EdgeCase{"max_batch_bytes: 1GiB\nmax_span_bytes: 1GiB\n"
                 "receiver: {max_batch_bytes: 2147483647, "
                 "max_decoded_bytes_in_flight: 64GiB}\n",
                 false},
        EdgeCase{"endpoint: \"\"\n", false},
        EdgeCase{"endpoint: grpc+unix:///tmp/otlp-arrow.sock\n", true},
        EdgeCase{"compression: \"\"\n", false}, EdgeCase{"compression: none\n", true},
        EdgeCase{"listen: {otlp_grpc: \"\"}\n", false},
        EdgeCase{"listen: {otlp_grpc: \"127.0.0.1:65536\"}\n", false},
        EdgeCase{"listen: {otlp_grpc: \"127.0.0.1:0\", otlp_http: \"127.0.0.1:0\"}\n",
                 true},
        EdgeCase{"listen: {otlp_grpc: \"127.0.0.1:4317\", otlp_http: \"0.0.0.0:4317\"}\n",
                 false},
        EdgeCase{"monitoring: {metrics_port: 0}\n", true},
        EdgeCase{"monitoring: {metrics_host: \"\"}\n", false},
        EdgeCase{"limits: {max_request_bytes: 1KiB}\n", true},
        EdgeCase{"limits: {max_request_bytes: 2147483647, max_decompressed_bytes: "
                 "2147483647, max_inflight_bytes: 64GiB}\n",
                 true},
        EdgeCase{"limits: {max_decompressed_bytes: 1KiB}\n", false},
        EdgeCase{"limits: {max_inflight_bytes: 1MiB}\n", false},
        EdgeCase{"otlp: {grpc_threads: 0}\n", false},
        EdgeCase{"otlp: {grpc_threads: 1024}\n", true},
        EdgeCase{"listen: {otap: \"\"}\n", true},
        EdgeCase{"listen: {otap: \"127.0.0.1:65536\"}\n", false},
        EdgeCase{"listen: {otap: \"127.0.0.1:8815\", flight: \"127.0.0.1:8815\"}\n",
                 false},
        EdgeCase{"otlp: {max_otap_streams: 0}\n", true},
        EdgeCase{"otlp: {max_otap_streams: -1}\n", false},
        EdgeCase{"otlp: {otap_max_stream_dictionary_bytes: 1KiB}\n", false},
        EdgeCase{"receiver: {data_dir: \"\"}\n", false},
        EdgeCase{"receiver: {max_file_age_ms: 0}\n", true},
        EdgeCase{"receiver: {zstd_level: 0}\n", false},
        EdgeCase{"receiver: {zstd_level: 22}\n", true},
        EdgeCase{"receiver: {max_row_group_rows: 1024}\n", true},
        EdgeCase{"receiver: {max_concurrent_streams: 0}\n", false},
        EdgeCase{"receiver: {max_streams_per_client: 0}\n", true},
        EdgeCase{"receiver: {max_decoded_bytes_in_flight: 1KiB}\n", false},
        EdgeCase{"receiver: {stream_idle_timeout_ms: 0}\n", true},
        EdgeCase{"auth: {token_file: \"\"}\n", true},
        EdgeCase{"auth: {token_file: {pem}}\n", true},
        EdgeCase{"auth: {token_file: {blank}}\n", false},
        EdgeCase{"tls: {cert_path: {pem}}\nendpoint: grpc+tls://x:1\n", false},
        EdgeCase{
            "endpoint: grpc+tls://x:1\ntls: {cert_path: {pem}, key_path: {pem}, "
            "ca_path: {pem}}\nreceiver: {tls: {cert_path: {pem}, key_path: {pem}}}\n",
            true},
        EdgeCase{"otlp: {tls: {cert_path: {pem}, key_path: {pem}, client_ca_path: "
                 "{pem}}}\n",
                 true},
        EdgeCase{"otlp: {tls: {client_ca_path: {pem}}}\n", false},
        EdgeCase{"receiver: {tls: {cert_path: {pem}, key_path: {pem}, client_ca_path: "
                 "{pem}}}\n",
                 true},
        EdgeCase{"receiver: {tls: {client_ca_path: {pem}}}\n", false}));

// --- values ------------------------------------------------------------------------

TEST(ConfigValues, Integers) {
  EXPECT_EQ(internal::ParseInteger("0", false).ValueOrDie(), 0);
  EXPECT_EQ(internal::ParseInteger("+12", false).ValueOrDie(), 12);
  EXPECT_EQ(internal::ParseInteger("-9223372036854775808", false).ValueOrDie(),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(internal::ParseInteger("9223372036854775807", false).ValueOrDie(),
            std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(internal::ParseInteger("9223372036854775808", false).ok());
  EXPECT_FALSE(internal::ParseInteger("8388608TiB", true).ok());
  EXPECT_EQ(internal::ParseInteger("8388607TiB", true).ValueOrDie(),
            int64_t{8388607} << 40);
  for (std::string_view bad : {"", "-", "1.5", "1e3", "0x10", " 1", "1 ", "1KiB"}) {
    EXPECT_FALSE(internal::ParseInteger(bad, false).ok()) << bad;
  }
  EXPECT_FALSE(internal::ParseInteger("1  KiB", true).ok());
  EXPECT_EQ(internal::ParseInteger("3 KiB", true).ValueOrDie(), 3072);
}

TEST(ConfigValues, EditDistanceCountsTranspositionsOnce) {
  EXPECT_EQ(internal::EditDistance("batch_size", "batch_size"), 0u);
  EXPECT_EQ(internal::EditDistance("batch_szie", "batch_size"), 1u);
  EXPECT_EQ(internal::EditDistance("", "abc"), 3u);
  EXPECT_EQ(internal::EditDistance("kitten", "sitting"), 3u);
}

// --- documentation -----------------------------------------------------------------

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(OTLP_ARROW_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in) << relative;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// docs/configuration.md has one table row per key with its environment variable and
// default, so the documentation cannot fall behind the table.
TEST(ConfigDocs, EveryKeyIsDocumented) {
  const std::string docs = ReadSource("docs/configuration.md");
  const std::string header = ReadSource("include/otlp_arrow/config/service_config.h");
  for (const ConfigKeyInfo& key : ConfigKeys()) {
    SCOPED_TRACE(key.key);
    const auto row = docs.find("\n| `" + key.key + "` |");
    ASSERT_NE(row, std::string::npos);
    const std::string line = docs.substr(row + 1, docs.find('\n', row + 1) - row - 1);
    const std::string default_value =
        key.default_value.empty() ? "\"\"" : key.default_value;
    EXPECT_THAT(line, HasSubstr("| `" + default_value + "` |"));
    EXPECT_THAT(line, HasSubstr("`" + key.env_var + "`"));
    EXPECT_THAT(header, HasSubstr("Key `" + key.key + "`, default"));
  }
}

}  // namespace
}  // namespace otlp_arrow::config
