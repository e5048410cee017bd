// SPDX-License-Identifier: Apache-2.0

#include "healthcheck_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <httplib.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/config/service_config.h"

namespace otlp_arrow::cli {

namespace {

// Docker: 0 healthy, 1 unhealthy (2 is reserved).
constexpr int kHealthy = 0;
constexpr int kUnhealthy = 1;
constexpr size_t kMaxReasonChars = 300;

struct HealthcheckOptions {
  std::string url;
  std::string config_file;
  bool ready = false;
  int64_t timeout_ms = 3000;
};

// The body on one line, cut to a length a container runtime keeps in its health log.
std::string OneLine(std::string_view text) {
  std::string line;
  for (const char c : text) {
    if (line.size() >= kMaxReasonChars) {
      line += "…";
      break;
    }
    line += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// What went wrong, in words: httplib names its errors by enumerator only.
std::string Describe(httplib::Error error, int64_t timeout_ms) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect (nothing listening there, or the host is unreachable)";
    case httplib::Error::ConnectionTimeout:
      return fmt::format("no connection within {} ms", timeout_ms);
    case httplib::Error::Read:
      return fmt::format("no answer within {} ms, or the connection closed", timeout_ms);
    case httplib::Error::Write:
      return "could not send the request (the connection closed)";
    default:
      return "request failed: " + httplib::to_string(error);
  }
}

// http://HOST:PORT of `listen.health` as a client in this container reaches it: a
// wildcard host is not an address to connect to (as the all-in-one gateway half reaches
// its receiver half).
arrow::Result<std::string> BaseUrlFromConfig(const HealthcheckOptions& options) {
  config::ConfigSources sources;
  if (!options.config_file.empty()) sources.config_path = options.config_file;
  ARROW_ASSIGN_OR_RAISE(auto loaded, config::LoadServiceConfig(sources));
  const std::string& address = loaded.config.listen.health;
  auto parsed = common::HostPort::Parse(address);
  if (!parsed.ok()) {
    return parsed.status().WithMessage("listen.health: ", parsed.status().message());
  }
  common::HostPort health = *parsed;
  if (health.port == 0) {
    return arrow::Status::Invalid(
        "listen.health is port 0 (a free port picked at start): pass --url");
  }
  if (health.IsWildcard()) health.host = "127.0.0.1";
  return "http://" + health.ToString();
}

int RunHealthcheck(const HealthcheckOptions& options) {
  const std::string default_path = options.ready ? "/ready" : "/health";
  std::string base;
  std::string path = default_path;
  if (options.url.empty()) {
    auto from_config = BaseUrlFromConfig(options);
    if (!from_config.ok()) {
      std::cerr << "healthcheck: configuration: "
                << OneLine(from_config.status().message()) << "\n";
      return kUnhealthy;
    }
    base = *from_config;
  } else {
    constexpr std::string_view kScheme = "http://";
    if (!std::string_view(options.url).starts_with(kScheme) ||
        options.url.size() == kScheme.size()) {
      std::cerr << "healthcheck: --url must be http://HOST:PORT[/PATH], got '"
                << options.url << "'\n";
      return kUnhealthy;
    }
    const auto slash = options.url.find('/', kScheme.size());
    base = options.url.substr(0, slash);
    if (slash != std::string::npos) path = options.url.substr(slash);
  }
  const std::string url = base + path;

  httplib::Client client(base);
  const auto seconds = static_cast<time_t>(options.timeout_ms / 1000);
  const auto micros = static_cast<time_t>((options.timeout_ms % 1000) * 1000);
  client.set_connection_timeout(seconds, micros);
  client.set_read_timeout(seconds, micros);
  client.set_write_timeout(seconds, micros);
  const auto response = client.Get(path);
  if (!response) {
    std::cerr << "healthcheck: " << url << ": "
              << Describe(response.error(), options.timeout_ms) << "\n";
    return kUnhealthy;
  }
  const std::string body = OneLine(response->body);
  const std::string what = fmt::format("{}: HTTP {}{}{}", url, response->status,
                                       body.empty() ? "" : ": ", body);
  if (response->status < 200 || response->status >= 300) {
    std::cerr << "healthcheck: " << what << "\n";
    return kUnhealthy;
  }
  std::cout << what << "\n";
  return kHealthy;
}

}  // namespace

void AddHealthcheckCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<HealthcheckOptions>();
  CLI::App* cmd = app.add_subcommand("healthcheck",
                                     "GET /health (or /ready) of a running otlp-arrow, "
                                     "for a container HEALTHCHECK: exit "
                                     "0 on HTTP 2xx, 1 otherwise");
  cmd->add_flag("--ready", options->ready, "Check /ready instead of /health");
  cmd->add_option("--url", options->url,
                  "http://HOST:PORT[/PATH] to GET (default: listen.health of the "
                  "configuration, a wildcard host read as 127.0.0.1)");
  cmd->add_option("--config", options->config_file,
                  "YAML configuration (default: $OTLP_ARROW_CONFIG, else "
                  "/etc/otlp-arrow/config.yaml when present)");
  cmd->add_option("--timeout-ms", options->timeout_ms,
                  "Time allowed to connect, and again to read the answer")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  cmd->callback([options, exit_code] { *exit_code = RunHealthcheck(*options); });
}

}  // namespace otlp_arrow::cli
