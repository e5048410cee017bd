// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow bench`: runs the otlp-arrow-bench program (src/bench/), the span table
// against OTLP protobuf on the same spans (issue #5).

#pragma once

#include <optional>

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief When the command line is `otlp-arrow [-v] bench ARGS...`, replaces this
/// process with the otlp-arrow-bench program found beside it (else on PATH), with ARGS
/// (`--help` included); returns only when it cannot be started, with exit code 1.
/// Otherwise returns nothing. Called before the command line is parsed: ARGS belong to
/// otlp-arrow-bench. The measurements are a program of their own because counting the
/// heap replaces the global operator new, which the service must not carry.
std::optional<int> RunBenchProgram(int argc, char** argv);

/// \brief Lists `bench` among the subcommands of `app` (RunBenchProgram runs it).
void AddBenchCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
