// SPDX-License-Identifier: Apache-2.0

#include "bench_command.h"

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/bench/arrow_vs_protobuf.h"
#include "otlp_arrow/bench/memory_counter.h"

namespace otlp_arrow::cli {

namespace {

struct BenchOptions {
  bench::Options run;
  std::vector<std::string> workloads = {"all"};
  std::string json_file;
  bool columns = false;
};

int RunBench(BenchOptions options) {
  if (options.workloads.size() == 1 && options.workloads[0] == "all") {
    options.run.workloads = {"seed", "otel", "realistic"};
  } else {
    options.run.workloads = options.workloads;
  }
  if (!bench::HeapCountingAvailable()) {
    spdlog::warn("operator new is not counted in this build: memory rows show the pool");
  }
  auto report = bench::Run(options.run, [](const std::string& workload, int64_t spans) {
    spdlog::info("measuring {} at {} spans", workload, spans);
  });
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return 1;
  }
  std::cout << bench::FormatTable(*report);
  if (options.columns) std::cout << bench::FormatColumnSizes(*report);
  std::cout << std::flush;
  if (!options.json_file.empty()) {
    std::ofstream out(options.json_file, std::ios::trunc);
    out << bench::ToJson(*report);
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

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Arrow (span table) vs OTLP protobuf: CPU time, heap and bytes");
  cmd->add_option("--workload", options->workloads,
                  "seed, otel, realistic (comma-separated) or all")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"seed", "otel", "realistic", "all"}));
  cmd->add_option("--sizes", options->run.sizes, "Spans per batch, comma-separated")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  cmd->add_option("--repetitions", options->run.repetitions,
                  "Samples per operation; the table shows their medians")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--min-time", options->run.min_sample_seconds,
                  "Seconds of CPU per sample at least (short operations repeat)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  cmd->add_option("--zstd-level", options->run.zstd_level,
                  "zstd level for Arrow IPC and protobuf alike (Arrow's IPC default: 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 22));
  cmd->add_option("--json", options->json_file, "Also write every figure as JSON here");
  cmd->add_flag("--columns", options->columns,
                "Also print each span-table column's bytes, raw and zstd");
  cmd->callback([options, exit_code] { *exit_code = RunBench(*options); });
}

}  // namespace otlp_arrow::cli
