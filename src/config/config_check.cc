// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/config/config_check.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "otlp_arrow/config/service_config.h"

namespace otlp_arrow::config {

namespace {

std::string Bytes(int64_t bytes) {
  constexpr std::pair<int64_t, const char*> kUnits[] = {
      {int64_t{1} << 30, "GiB"}, {int64_t{1} << 20, "MiB"}, {int64_t{1} << 10, "KiB"}};
  for (const auto& [size, unit] : kUnits) {
    if (bytes >= size && bytes % size == 0) {
      return std::to_string(bytes / size) + " " + unit;
    }
  }
  return std::to_string(bytes) + " bytes";
}

std::string_view CompressionName(transport::FlightCompression compression) {
  switch (compression) {
    case transport::FlightCompression::kNone:
      return "uncompressed";
    case transport::FlightCompression::kLz4:
      return "lz4";
    case transport::FlightCompression::kZstd:
      return "zstd";
  }
  return "?";
}

std::string Summary(const ServiceConfig& c) {
  std::ostringstream out;
  out << "gateway: OTLP grpc " << c.listen.otlp_grpc << ", http " << c.listen.otlp_http
      << (c.otlp.tls.cert_path.empty() ? "" : " (TLS)") << " -> " << c.endpoint
      << " (batches of " << c.batch_size << " spans or " << c.flush_interval_ms.count()
      << " ms, queue " << c.buffer_size << " spans / " << Bytes(c.buffer_bytes) << ", "
      << CompressionName(c.compression)
      << (c.auth.token_file.empty() ? "" : ", bearer token") << "); receiver: flight "
      << c.listen.flight << (c.receiver.tls.cert_path.empty() ? "" : " (TLS)") << " -> "
      << c.receiver.data_dir << " ("
      << (c.receiver.durability == storage::WalDurability::kFsync ? "fsync" : "os")
      << "); health " << c.listen.health << ", metrics " << c.monitoring.MetricsAddress()
      << ", log " << ToString(c.monitoring.EffectiveLogLevel());
  return out.str();
}

}  // namespace

int RunConfigCheck(const std::string& path, std::ostream& out) {
  ConfigSources sources;
  sources.config_path = path;
  sources.environment.emplace();
  auto loaded = LoadServiceConfig(sources);
  if (!loaded.ok()) {
    out << "config INVALID: " << path << "\n";
    // One error per line, each starting with its file:line:column as compilers print.
    std::istringstream lines(loaded.status().message());
    std::string line;
    const bool several = loaded.status().message().find('\n') != std::string::npos;
    for (bool first = true; std::getline(lines, line); first = false) {
      if (several && first) continue;  // "N configuration errors:"
      out << line.substr(std::min(line.size(), line.find_first_not_of(' '))) << "\n";
    }
    return 1;
  }
  const ServiceConfig& config = loaded->config;
  out << "config OK: " << path << "\n" << Summary(config) << "\n";
  for (const std::string& warning : loaded->warnings)
    out << "warning: " << warning << "\n";
  const std::pair<const char*, const std::string*> files[] = {
      {"tls.cert_path", &config.tls.cert_path},
      {"tls.key_path", &config.tls.key_path},
      {"tls.ca_path", &config.tls.ca_path},
      {"auth.token_file", &config.auth.token_file},
      {"otlp.tls.cert_path", &config.otlp.tls.cert_path},
      {"otlp.tls.key_path", &config.otlp.tls.key_path},
      {"otlp.tls.client_ca_path", &config.otlp.tls.client_ca_path},
      {"receiver.tls.cert_path", &config.receiver.tls.cert_path},
      {"receiver.tls.key_path", &config.receiver.tls.key_path},
      {"receiver.tls.client_ca_path", &config.receiver.tls.client_ca_path},
  };
  for (const auto& [key, file] : files) {
    if (file->empty() || access(file->c_str(), R_OK) == 0) continue;
    out << "warning: " << key << ": '" << *file
        << "' is not readable here; the service reads it when it starts\n";
  }
  return 0;
}

}  // namespace otlp_arrow::config
