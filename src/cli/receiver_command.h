// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow receiver`: the Flight receiver storing spans as Parquet, until
// SIGTERM/SIGINT.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `receiver` subcommand. Its callback serves until SIGTERM or SIGINT,
/// then stops accepting calls, lets running streams finish (up to a grace period),
/// closes the store and stores the exit code in `*exit_code`: 0 after a clean stop, 1 if
/// the receiver could not start or the store could not be closed.
void AddReceiverCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
