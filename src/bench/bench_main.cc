// SPDX-License-Identifier: Apache-2.0
// The otlp-arrow-bench program: the span table against OTLP protobuf on the same spans
// (issue #5). A program of its own because it replaces the global operator new to count
// the heap (counting_new_delete.cc), which the service must not carry; `otlp-arrow bench`
// runs it.

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/bench/arrow_vs_protobuf.h"
#include "otlp_arrow/bench/memory_counter.h"

namespace otlp_arrow::bench {
namespace {

// Exit codes as otlp-arrow's: 0 success, 1 failure, 2 usage error.
constexpr int kExitUsage = 2;

struct BenchOptions {
  Options run;
  std::vector<std::string> workloads = {"all"};
  std::string json_file;
  bool columns = false;
};

int RunBench(BenchOptions options) {
  if (!options.run.input.empty()) {
    options.run.workloads = {};
  } else if (options.workloads.size() == 1 && options.workloads[0] == "all") {
    options.run.workloads = {"seed", "otel", "realistic"};
  } else {
    options.run.workloads = options.workloads;
  }
  if (!HeapCountingAvailable()) {
    spdlog::warn("operator new is not counted in this build: memory rows show the pool");
  }
  auto report = Run(options.run, [](const std::string& workload, int64_t spans) {
    spdlog::info("measuring {} at {} spans", workload, spans);
  });
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return 1;
  }
  std::cout << FormatTable(*report);
  if (options.columns) std::cout << FormatColumnSizes(*report);
  std::cout << std::flush;
  if (!options.json_file.empty()) {
    std::ofstream out(options.json_file, std::ios::trunc);
    out << ToJson(*report);
    out.close();
    if (!out) {
      spdlog::error("cannot write {}", options.json_file);
      return 1;
    }
    spdlog::info("wrote {}", options.json_file);
  }
  for (const auto& c : report->cases) {
    if (!c.round_trips_equal) {
      spdlog::error("{} at {} spans: a round trip did not give back its input",
                    c.workload, c.spans);
      return 1;
    }
  }
  return 0;
}

void AddOptions(CLI::App& app, BenchOptions* options) {
  auto* workload = app.add_option("--workload", options->workloads,
                                  "seed, otel, realistic (comma-separated) or all")
                       ->delimiter(',')
                       ->capture_default_str()
                       ->check(CLI::IsMember({"seed", "otel", "realistic", "all"}));
  app.add_option(
         "--input", options->run.input,
         "Measure the spans of this file of OTLP trace requests instead (what the "
         "Collector's file exporter writes: OTLP/JSON lines or 4-byte big-endian "
         "length-prefixed protobuf, optionally zstd); at each of --sizes its first "
         "that many spans")
      ->check(CLI::ExistingFile)
      ->excludes(workload);
  app.add_option("--sizes", options->run.sizes, "Spans per batch, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  app.add_option("--repetitions", options->run.repetitions,
                 "Samples per operation; the table shows their medians")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--min-time", options->run.min_sample_seconds,
                 "Seconds of CPU per sample at least (short operations repeat)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  app.add_option("--zstd-level", options->run.zstd_level,
                 "zstd level for Arrow IPC and protobuf alike (Arrow's IPC default: 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 22));
  app.add_option("--json", options->json_file, "Also write every figure as JSON here");
  app.add_flag("--columns", options->columns,
               "Also print each span-table column's bytes, raw and zstd");
}

}  // namespace
}  // namespace otlp_arrow::bench

int main(int argc, char** argv) {
  // Logs go to stderr, so that stdout carries only the table.
  auto logger = spdlog::stderr_color_mt("otlp-arrow-bench");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{
      "Arrow (span table) vs OTLP protobuf: CPU time, heap and bytes. Also run as "
      "`otlp-arrow bench`.",
      "otlp-arrow-bench"};
  otlp_arrow::bench::BenchOptions options;
  otlp_arrow::bench::AddOptions(app, &options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is an "error" with code 0; CLI11 prints it to stdout.
    return app.exit(e) == 0 ? 0 : otlp_arrow::bench::kExitUsage;
  }
  return otlp_arrow::bench::RunBench(std::move(options));
}
