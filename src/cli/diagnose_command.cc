// SPDX-License-Identifier: Apache-2.0

#include "diagnose_command.h"

#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "otlp_arrow/transport/connection_diagnosis.h"

namespace otlp_arrow::cli {

void AddDiagnoseCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<transport::ConnectionDiagnosisOptions>();
  auto timeout_ms = std::make_shared<int64_t>(options->timeout.count());
  CLI::App* cmd = app.add_subcommand(
      "diagnose",
      "Check the connection to a Flight receiver step by step: DNS, TCP, TLS, Flight");
  cmd->add_option("--endpoint", options->endpoint,
                  "grpc://host:port or grpc+tls://host:port")
      ->capture_default_str();
  cmd->add_option("--ca", options->ca_file, "PEM file of the CA that signed the receiver")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cert", options->cert_file,
                  "PEM client certificate chain, for a receiver that requires mutual TLS")
      ->check(CLI::ExistingFile);
  cmd->add_option("--key", options->key_file, "PEM private key of --cert")
      ->check(CLI::ExistingFile);
  cmd->add_option("--token", options->token, "Bearer token the receiver expects");
  cmd->add_option("--server-name", options->server_name_override,
                  "Name to verify the receiver's certificate against");
  cmd->add_option("--timeout-ms", *timeout_ms, "Time allowed for each step")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{600000}));
  cmd->callback([options, timeout_ms, exit_code] {
    options->timeout = std::chrono::milliseconds(*timeout_ms);
    auto diagnosis = transport::DiagnoseConnection(*options);
    if (!diagnosis.ok()) {
      std::cerr << "error: " << diagnosis.status().ToString() << "\n";
      *exit_code = 1;
      return;
    }
    for (const auto& step : diagnosis->steps) {
      std::cout << (step.ok ? "✅ " : "❌ ") << step.name << ": " << step.detail << "\n";
      if (!step.ok && !step.hint.empty())
        std::cout << "   likely fix: " << step.hint << "\n";
    }
    *exit_code = diagnosis->ok() ? 0 : 1;
  });
}

}  // namespace otlp_arrow::cli
