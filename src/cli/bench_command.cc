// SPDX-License-Identifier: Apache-2.0

#include "bench_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

namespace otlp_arrow::cli {

namespace {

constexpr const char* kBenchProgram = "otlp-arrow-bench";

}  // namespace

std::optional<int> RunBenchProgram(int argc, char** argv) {
  int i = 1;
  while (i < argc && (std::string_view(argv[i]) == "-v" ||
                      std::string_view(argv[i]) == "--verbose")) {
    ++i;
  }
  if (i >= argc || std::string_view(argv[i]) != "bench") return std::nullopt;

  std::string program = kBenchProgram;
  std::vector<char*> args = {program.data()};
  args.insert(args.end(), argv + i + 1, argv + argc);
  args.push_back(nullptr);
  std::error_code error;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  std::string beside = kBenchProgram;
  int beside_errno = 0;
  if (!error) {
    beside = (self.parent_path() / kBenchProgram).string();
    ::execv(beside.c_str(), args.data());  // returns only on failure
    beside_errno = errno;
  }
  ::execvp(kBenchProgram, args.data());
  spdlog::error(
      "`otlp-arrow bench` runs the {} program, which is built beside otlp-arrow "
      "(build/{}; the container image does not have it): {}: {}; on PATH: {}",
      kBenchProgram, kBenchProgram, beside, std::strerror(beside_errno),
      std::strerror(errno));
  return 1;
}

void AddBenchCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Arrow (span table) vs OTLP protobuf: CPU time, heap and bytes (the "
      "otlp-arrow-bench program; `otlp-arrow bench --help` lists its options)");
  cmd->allow_extras();
  // Reached only when RunBenchProgram did not take the command line (e.g. `bench` after
  // an option it does not skip).
  cmd->callback([exit_code] {
    spdlog::error("put `bench` first: otlp-arrow bench [options of otlp-arrow-bench]");
    *exit_code = 2;
  });
}

}  // namespace otlp_arrow::cli
