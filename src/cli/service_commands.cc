// SPDX-License-Identifier: Apache-2.0

#include "service_commands.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/config/component_options.h"
#include "otlp_arrow/config/config_check.h"
#include "otlp_arrow/config/service_config.h"
#include "otlp_arrow/service/service_runtime.h"

namespace otlp_arrow::cli {

namespace {

using service::ServiceRole;

// SIGINT and SIGTERM are blocked in every thread (the mask is inherited, so this runs
// before gRPC, the store and the HTTP servers start theirs) and taken by one thread with
// sigwait(): the shutdown then runs as ordinary code instead of inside a signal handler.
class ShutdownSignals {
 public:
  ShutdownSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    waiter_ = std::thread([this] {
      int signal = 0;
      sigwait(&signals_, &signal);
      std::lock_guard<std::mutex> lock(mutex_);
      if (signal_ == 0) signal_ = signal;
      cv_.notify_all();
    });
  }

  // Blocks until SIGINT or SIGTERM; returns the signal.
  int Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return signal_ != 0; });
    return signal_;
  }

  ~ShutdownSignals() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (signal_ == 0) pthread_kill(waiter_.native_handle(), SIGTERM);
    }
    waiter_.join();
  }

 private:
  sigset_t signals_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int signal_ = 0;
  std::thread waiter_;
};

constexpr unsigned kGateway = 1;
constexpr unsigned kReceiver = 2;
constexpr unsigned kNotAllInOne = 4;  // gateway-only flags that all-in-one has no use for

// A command-line flag that sets one configuration key.
struct FlagSpec {
  const char* flag;
  const char* key;
  unsigned roles;
  const char* help;
};

constexpr FlagSpec kFlags[] = {
    {"--otlp-grpc", "listen.otlp_grpc", kGateway, "OTLP/gRPC listen address (host:port)"},
    {"--otlp-http", "listen.otlp_http", kGateway, "OTLP/HTTP listen address (host:port)"},
    {"--flight", "listen.flight", kReceiver,
     "Arrow Flight listen address of the receiver (host:port)"},
    {"--otap", "listen.otap", kReceiver,
     "OTAP (and OTLP/gRPC) listen address straight into the store (host:port)"},
    {"--health", "listen.health", kGateway | kReceiver,
     "Address of /health and /ready (host:port)"},
    {"--data-dir", "receiver.data_dir", kReceiver,
     "Where spans are stored (<dir>/spans/dt=…/hour=…/, WAL in <dir>/wal)"},
    {"--endpoint", "endpoint", kGateway | kNotAllInOne,
     "Flight receiver to export to: grpc://host:port or grpc+tls://host:port"},
    {"--batch-size", "batch_size", kGateway, "Spans per exported Arrow batch"},
    {"--flush-interval-ms", "flush_interval_ms", kGateway,
     "Export a partial batch after this many milliseconds"},
    {"--buffer-size", "buffer_size", kGateway, "Export queue capacity in spans"},
    {"--compression", "compression", kGateway, "IPC compression: none, lz4 or zstd"},
    {"--max-retries", "max_retries", kGateway, "Retries per export call"},
    {"--ca", "tls.ca_path", kGateway | kNotAllInOne,
     "PEM CA bundle that verifies the receiver (grpc+tls)"},
    {"--token-file", "auth.token_file", kGateway | kReceiver,
     "File holding the bearer token (sent by the gateway, required by the receiver)"},
    {"--otlp-tls-cert", "otlp.tls.cert_path", kGateway,
     "PEM certificate chain of the OTLP listeners (enables TLS: gRPC over TLS, HTTPS)"},
    {"--otlp-tls-key", "otlp.tls.key_path", kGateway,
     "PEM private key of --otlp-tls-cert"},
    {"--otlp-client-ca", "otlp.tls.client_ca_path", kGateway,
     "PEM CA of OTLP clients; requires client certificates (mTLS)"},
    {"--tls-cert", "receiver.tls.cert_path", kReceiver,
     "PEM certificate chain of the Flight receiver (enables TLS)"},
    {"--tls-key", "receiver.tls.key_path", kReceiver, "PEM private key of --tls-cert"},
    {"--client-ca", "receiver.tls.client_ca_path", kReceiver,
     "PEM CA of the clients; requires client certificates (mTLS)"},
    {"--durability", "receiver.durability", kReceiver,
     "What a batch acknowledgement waits for: fsync (survives power loss) or os (in "
     "the page cache: survives a crash of the process)"},
    {"--max-streams", "receiver.max_concurrent_streams", kReceiver,
     "Upload streams served at once (more: UNAVAILABLE, retried by clients)"},
    {"--log-level", "monitoring.log_level", kGateway | kReceiver,
     "trace, debug, info, warn, error or off"},
};

struct ServiceCommandOptions {
  ServiceRole role = ServiceRole::kGateway;
  std::string config_file;
  bool print_config = false;
  std::map<std::string, std::string> values;  // flag → value, for the flags given
  std::string metrics;                        // --metrics host:port
  std::string max_batch_mib;                  // --max-batch-mib
  std::string shutdown_grace_s;               // --shutdown-grace
};

// Whether the user gave `flag` (which not every subcommand defines).
bool Given(CLI::App* cmd, const std::string& flag) {
  const CLI::Option* option = cmd->get_option_no_throw(flag);
  return option != nullptr && option->count() > 0;
}

arrow::Result<config::ConfigSources> MakeSources(const ServiceCommandOptions& options,
                                                 CLI::App* cmd) {
  config::ConfigSources sources;
  if (!options.config_file.empty()) sources.config_path = options.config_file;
  for (const auto& spec : kFlags) {
    auto it = options.values.find(spec.flag);
    if (it != options.values.end() && Given(cmd, spec.flag)) {
      sources.flags.insert_or_assign(spec.key, config::FlagValue(it->second, spec.flag));
    }
  }
  if (Given(cmd, "--metrics")) {
    auto metrics = common::HostPort::Parse(options.metrics);
    if (!metrics.ok())
      return metrics.status().WithMessage("--metrics: ", metrics.status().message());
    sources.flags.insert_or_assign("monitoring.metrics_host",
                                   config::FlagValue(metrics->host, "--metrics"));
    sources.flags.insert_or_assign(
        "monitoring.metrics_port",
        config::FlagValue(std::to_string(metrics->port), "--metrics"));
  }
  if (Given(cmd, "--max-batch-mib")) {
    sources.flags.insert_or_assign(
        "receiver.max_batch_bytes",
        config::FlagValue(options.max_batch_mib + "MiB", "--max-batch-mib"));
  }
  if (Given(cmd, "--shutdown-grace")) {
    double seconds = 0;
    try {
      seconds = std::stod(options.shutdown_grace_s);
    } catch (const std::exception&) {
      return arrow::Status::Invalid("--shutdown-grace: not a number of seconds: '",
                                    options.shutdown_grace_s, "'");
    }
    sources.flags.insert_or_assign(
        "shutdown_timeout_ms",
        config::FlagValue(std::to_string(static_cast<int64_t>(seconds * 1000)),
                          "--shutdown-grace"));
  }
  return sources;
}

void ApplyLogLevel(config::LogLevel level) {
  static const std::map<config::LogLevel, spdlog::level::level_enum> kLevels = {
      {config::LogLevel::kTrace, spdlog::level::trace},
      {config::LogLevel::kDebug, spdlog::level::debug},
      {config::LogLevel::kInfo, spdlog::level::info},
      {config::LogLevel::kWarn, spdlog::level::warn},
      {config::LogLevel::kError, spdlog::level::err},
      {config::LogLevel::kOff, spdlog::level::off}};
  // -v (debug) set while parsing wins over a quieter configured level.
  spdlog::set_level(std::min(spdlog::get_level(), kLevels.at(level)));
}

void PrintBanner(ServiceRole role, const config::ServiceConfig& config,
                 const service::ServiceEndpoints& endpoints, const std::string& file) {
  fmt::print("otlp-arrow {} {} ({})\n", service::ToString(role), OTLP_ARROW_VERSION,
             file.empty() ? "no configuration file" : "configuration " + file);
  if (!endpoints.otlp_grpc.empty()) {
    const config::ServerTlsConfig& otlp_tls = config.otlp.tls;
    const char* security = otlp_tls.cert_path.empty()        ? "plaintext"
                           : otlp_tls.client_ca_path.empty() ? "TLS"
                                                             : "mTLS";
    fmt::print(
        "OTLP/gRPC listening on {} ({}), OTAP ArrowTracesService on the same port\n",
        endpoints.otlp_grpc, security);
    fmt::print("OTLP/HTTP listening on {} ({})\n", endpoints.otlp_http, security);
    fmt::print(
        "exporting Arrow to {} (batches of {} spans, flush every {} ms, queue {} "
        "spans / {} MiB)\n",
        endpoints.upstream, config.batch_size, config.flush_interval_ms.count(),
        config.buffer_size, config.buffer_bytes >> 20);
  }
  if (!endpoints.flight.empty()) {
    const bool tls = !config.receiver.tls.cert_path.empty();
    fmt::print(
        "otlp-arrow receiver listening on {} ({}{})\n", endpoints.flight,
        tls ? (config.receiver.tls.client_ca_path.empty() ? "TLS" : "mTLS") : "plaintext",
        config.auth.token_file.empty() ? ", no authentication"
                                       : ", bearer token required");
    if (!endpoints.otap.empty()) {
      fmt::print("OTAP (and OTLP/gRPC) into the store listening on {} ({}{})\n",
                 endpoints.otap, tls ? "TLS" : "plaintext",
                 config.auth.token_file.empty() ? ", no authentication"
                                                : ", bearer token required");
    }
    fmt::print("storing spans under {}/spans (write-ahead log {}/wal, {})\n",
               endpoints.data_dir, endpoints.data_dir,
               config.receiver.durability == storage::WalDurability::kFsync
                   ? "fsync before acknowledging"
                   : "flushed to the OS before acknowledging");
  }
  fmt::print("health on {}/health and {}/ready; metrics on {}\n", endpoints.health,
             endpoints.health, endpoints.metrics);
  std::fflush(stdout);  // scripts wait for these lines on a pipe
}

int RunService(const ServiceCommandOptions& options, CLI::App* cmd) {
  // Before any thread starts, so that every thread inherits the blocked signals.
  ShutdownSignals signals;
  auto sources = MakeSources(options, cmd);
  if (!sources.ok()) {
    spdlog::error("{}", sources.status().message());
    return 2;
  }
  auto loaded = config::LoadServiceConfig(*sources);
  if (!loaded.ok()) {
    spdlog::error("configuration: {}", loaded.status().message());
    return 2;
  }
  for (const auto& warning : loaded->warnings) spdlog::warn("configuration: {}", warning);
  if (options.print_config) {
    // What the start-up would build, so that a configuration it refuses is not printed
    // as if it would run; files the start-up reads need not be here.
    auto components = config::MakeComponentOptions(loaded->config, options.role,
                                                   config::FileMode::kReadIfPresent);
    if (!components.ok()) {
      spdlog::error("configuration: {}", components.status().message());
      return 2;
    }
    for (const auto& warning : components->warnings) {
      spdlog::warn("configuration: {}", warning);
    }
    std::cout << config::ToYaml(*loaded);
    return 0;
  }
  ApplyLogLevel(loaded->config.monitoring.EffectiveLogLevel());
  auto runtime = service::ServiceRuntime::Start(options.role, loaded->config);
  if (!runtime.ok()) {
    spdlog::error("{}: {}", service::ToString(options.role), runtime.status().ToString());
    return 1;
  }
  PrintBanner(options.role, loaded->config, (*runtime)->endpoints(), loaded->config_file);

  const int signal = signals.Wait();
  spdlog::info("{}: stopping; draining for up to {:.1f} s", strsignal(signal),
               loaded->config.shutdown_timeout_ms.count() / 1000.0);
  const service::ServiceStopReport report = (*runtime)->Stop();
  if (options.role != ServiceRole::kReceiver) {
    fmt::print("stopped: {} spans accepted over OTLP, {} exported to {}, {} not sent\n",
               report.spans_accepted, report.spans_exported,
               (*runtime)->endpoints().upstream, report.spans_not_sent);
  }
  if (options.role != ServiceRole::kGateway) {
    const auto& r = report.receiver;
    fmt::print(
        "stopped: {} spans stored in {} batches ({} Arrow bytes) from {} streams; {} "
        "refused as invalid, {} as too large, {} unauthenticated calls\n",
        r.spans_stored, r.batches_stored, r.bytes_stored, r.streams_completed,
        r.validation_failures, r.oversize_batches, r.unauthenticated_calls);
  }
  std::fflush(stdout);
  if (!report.status.ok()) {
    spdlog::error("stop: {}", report.status.ToString());
    return 1;
  }
  return report.spans_not_sent == 0 ? 0 : 1;
}

void AddServiceCommand(CLI::App& app, int* exit_code, ServiceRole role,
                       const std::string& description) {
  auto options = std::make_shared<ServiceCommandOptions>();
  options->role = role;
  CLI::App* cmd = app.add_subcommand(std::string(service::ToString(role)), description);
  unsigned roles = role == ServiceRole::kGateway    ? kGateway
                   : role == ServiceRole::kReceiver ? kReceiver
                                                    : (kGateway | kReceiver);
  cmd->add_option("--config", options->config_file,
                  "YAML configuration (default: $OTLP_ARROW_CONFIG, else "
                  "/etc/otlp-arrow/config.yaml when present)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--print-config", options->print_config,
                "Print the effective configuration as YAML and exit");
  for (const auto& spec : kFlags) {
    if ((spec.roles & roles) == 0) continue;
    if (role == ServiceRole::kAllInOne && (spec.roles & kNotAllInOne) != 0) continue;
    cmd->add_option(spec.flag, options->values[spec.flag],
                    fmt::format("{} [config: {}]", spec.help, spec.key));
  }
  cmd->add_option("--metrics", options->metrics,
                  "Address of /metrics (host:port) [config: monitoring.metrics_host, "
                  "monitoring.metrics_port]");
  cmd->add_option("--shutdown-grace", options->shutdown_grace_s,
                  "Seconds to drain and finish running streams after SIGTERM/SIGINT "
                  "[config: shutdown_timeout_ms]");
  if ((roles & kReceiver) != 0) {
    cmd->add_option("--max-batch-mib", options->max_batch_mib,
                    "Largest batch the receiver accepts, MiB (larger: "
                    "RESOURCE_EXHAUSTED) [config: receiver.max_batch_bytes]");
  }
  cmd->callback([options, exit_code, cmd] { *exit_code = RunService(*options, cmd); });
}

}  // namespace

void AddServiceCommands(CLI::App& app, int* exit_code) {
  AddServiceCommand(app, exit_code, ServiceRole::kGateway,
                    "Take OTLP traces (gRPC :4317, HTTP :4318) from any OpenTelemetry "
                    "SDK, batch them and send them on as Arrow over Flight");
  AddServiceCommand(app, exit_code, ServiceRole::kReceiver,
                    "Receive span batches over Arrow Flight (DoPut to [\"otlp\", "
                    "\"spans\"]), store them as Parquet and serve them back (DoGet)");
  AddServiceCommand(app, exit_code, ServiceRole::kAllInOne,
                    "Gateway and receiver in one process: OTLP in, Parquet in "
                    "--data-dir (./data) out");
}

void AddConfigCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("config", "Work with configuration files");
  cmd->require_subcommand(1);
  CLI::App* check =
      cmd->add_subcommand("check", "Check a configuration file: exit 0 if it is valid");
  auto file = std::make_shared<std::string>();
  check->add_option("FILE", *file, "The YAML file")->required();
  check->callback(
      [file, exit_code] { *exit_code = config::RunConfigCheck(*file, std::cout); });
}

}  // namespace otlp_arrow::cli
