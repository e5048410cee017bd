// SPDX-License-Identifier: Apache-2.0
// The otlp-arrow program. Each subcommand lives in its own <name>_command.cc.

#include <csignal>
#include <exception>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "bench_command.h"
#include "demo_command.h"
#include "diagnose_command.h"
#include "healthcheck_command.h"
#include "loadgen_command.h"
#include "otlp_arrow/telemetry/protobuf_log.h"
#include "send_command.h"
#include "service_commands.h"

namespace {

// Exit codes: 0 success, 1 failure, 2 usage error (as most Unix tools).
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Logs go to stderr, so that stdout carries only the commands' output.
void SetUpLogging() {
  auto logger = spdlog::stderr_color_mt("otlp-arrow");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
  // libprotobuf logs an error per bad request (invalid UTF-8): through spdlog, limited.
  otlp_arrow::telemetry::RouteProtobufLogToSpdlog();
}

}  // namespace

int main(int argc, char** argv) {
  // A write to a connection the peer has closed is an error to handle (EPIPE), not a
  // reason to die: OpenSSL writes to its socket without MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  SetUpLogging();
  // `otlp-arrow bench ...` is another program, whose options CLI11 here does not know.
  if (auto bench = otlp_arrow::cli::RunBenchProgram(argc, argv)) return *bench;
  CLI::App app{"OpenTelemetry traces carried and stored as Apache Arrow", "otlp-arrow"};
  app.set_version_flag("--version", OTLP_ARROW_VERSION);
  app.fallthrough();  // subcommands inherit it: `otlp-arrow demo -v` works too
  app.add_flag_callback(
      "-v,--verbose", [] { spdlog::set_level(spdlog::level::debug); },
      "Log debug details");

  int exit_code = 0;
  otlp_arrow::cli::AddBenchCommand(app, &exit_code);
  otlp_arrow::cli::AddDemoCommand(app, &exit_code);
  otlp_arrow::cli::AddDiagnoseCommand(app, &exit_code);
  otlp_arrow::cli::AddHealthcheckCommand(app, &exit_code);
  otlp_arrow::cli::AddLoadgenCommand(app, &exit_code);
  otlp_arrow::cli::AddSendCommand(app, &exit_code);
  otlp_arrow::cli::AddServiceCommands(app, &exit_code);
  otlp_arrow::cli::AddConfigCommand(app, &exit_code);

  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {  // not required_subcommand(): it hides typos
      if (argc > 1) std::cerr << "A subcommand is required\n";
      std::cerr << app.help();
      return kExitUsage;
    }
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with code 0; CLI11 prints them to stdout.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
  return exit_code;
}
