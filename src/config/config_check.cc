// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/config/config_check.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "otlp_arrow/config/component_options.h"
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
  // What each subcommand would build at start-up, the files read where readable.
  std::vector<std::pair<std::string, std::string>> errors;  // message, roles
  std::vector<std::string> warnings = loaded->warnings;
  for (ServiceRole role :
       {ServiceRole::kGateway, ServiceRole::kReceiver, ServiceRole::kAllInOne}) {
    auto options = MakeComponentOptions(config, role, FileMode::kReadIfPresent);
    if (!options.ok()) {
      const std::string message = options.status().message();
      auto same = std::find_if(errors.begin(), errors.end(),
                               [&](const auto& error) { return error.first == message; });
      if (same == errors.end()) {
        errors.emplace_back(message, std::string(ToString(role)));
      } else {
        same->second += ", " + std::string(ToString(role));
      }
      continue;
    }
    for (std::string& warning : options->warnings) {
      if (std::find(warnings.begin(), warnings.end(), warning) == warnings.end()) {
        warnings.push_back(std::move(warning));
      }
    }
  }
  if (!errors.empty()) {
    out << "config INVALID: " << path << "\n";
    for (const auto& [message, roles] : errors) {
      out << path << ": " << roles << ": " << message << "\n";
    }
    return 1;
  }
  out << "config OK: " << path << "\n" << Summary(config) << "\n";
  for (const std::string& warning : warnings) out << "warning: " << warning << "\n";
  return 0;
}

}  // namespace otlp_arrow::config
