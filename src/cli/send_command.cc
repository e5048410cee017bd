// SPDX-License-Identifier: Apache-2.0

#include "send_command.h"

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/common/file.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/transport/flight_span_exporter.h"

namespace otlp_arrow::cli {

namespace {

struct SendOptions {
  transport::FlightSpanExporterOptions exporter;
  std::string token_file;
  std::string workload = "realistic";
  int64_t spans = 10000;
  int64_t batches = 1;
};

int RunSend(const SendOptions& options) {
  auto exporter_options = options.exporter;
  if (!options.token_file.empty()) {
    auto token = common::ReadToken(options.token_file, "--token-file");
    if (!token.ok()) {
      spdlog::error("{}", token.status().ToString());
      return 1;
    }
    exporter_options.bearer_token = *token;
  }
  auto exporter = transport::FlightSpanExporter::Make(exporter_options);
  if (!exporter.ok()) {
    spdlog::error("{}", exporter.status().ToString());
    return 1;
  }
  int64_t acknowledged = 0, total = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < options.batches; ++b) {
    auto request = model::MakeWorkload(options.workload, options.spans);
    if (!request.ok()) {
      spdlog::error("{}", request.status().ToString());
      return 1;
    }
    auto batch = convert::SpanTableEncoder::Encode(*request);
    if (!batch.ok()) {
      spdlog::error("{}", batch.status().ToString());
      return 1;
    }
    const transport::ExportResult result = (*exporter)->Export(**batch);
    total += result.spans_total;
    acknowledged += result.spans_acknowledged;
    std::cout << "batch " << b << ": " << result.spans_acknowledged << "/"
              << result.spans_total << " spans acknowledged, " << result.attempts
              << " stream(s), " << result.retries << " retries, " << result.splits
              << " splits" << (result.ok() ? "" : ", FAILED: ")
              << (result.ok() ? "" : result.status.ToString()) << "\n";
    if (!result.ok()) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "sent " << acknowledged << "/" << total << " spans to "
            << exporter_options.endpoint << " in " << seconds << " s\n";
  if (const arrow::Status closed = (*exporter)->Shutdown(); !closed.ok()) {
    spdlog::warn("closing the connection: {}", closed.ToString());
  }
  return acknowledged == total && total == options.spans * options.batches ? 0 : 1;
}

}  // namespace

void AddSendCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<SendOptions>();
  CLI::App* cmd =
      app.add_subcommand("send", "Send sample spans to a receiver over Arrow Flight");
  cmd->add_option("--endpoint", options->exporter.endpoint,
                  "Receiver: grpc://host:port or grpc+tls://host:port")
      ->capture_default_str();
  cmd->add_option("--workload", options->workload, "seed, otel or realistic")
      ->capture_default_str()
      ->check(CLI::IsMember({"seed", "otel", "realistic"}));
  cmd->add_option("--spans", options->spans, "Spans per batch")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  cmd->add_option("--batches", options->batches, "Batches to send, one after the other")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  cmd->add_option("--compression", options->exporter.compression,
                  "IPC compression of the batches: none, lz4 or zstd")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, transport::FlightCompression>{
              {"none", transport::FlightCompression::kNone},
              {"lz4", transport::FlightCompression::kLz4},
              {"zstd", transport::FlightCompression::kZstd}},
          CLI::ignore_case))
      ->default_str("zstd");
  cmd->add_option("--ca", options->exporter.tls_root_certs_file,
                  "PEM CA bundle for grpc+tls");
  cmd->add_option("--token-file", options->token_file, "File holding the bearer token");
  cmd->add_option("--max-retries", options->exporter.max_retries, "Retries per export")
      ->capture_default_str();
  cmd->callback([options, exit_code] { *exit_code = RunSend(*options); });
}

}  // namespace otlp_arrow::cli
