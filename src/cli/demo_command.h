// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow demo`: sample traces → Arrow → Parquet → read back and checked.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `demo` subcommand to `app`. When the command line selects it, its
/// callback runs the demo and stores the process exit code (0 or 1) in `*exit_code`; a
/// usage error is thrown as a CLI::ParseError, like any other.
void AddDemoCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
