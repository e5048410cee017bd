// SPDX-License-Identifier: Apache-2.0
// The long-running subcommands — `gateway`, `receiver`, `all-in-one` — and `config check`.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds `gateway`, `receiver` and `all-in-one`: each loads the configuration
/// (flags > environment > file > defaults), starts a service::ServiceRuntime, prints where
/// it listens and where data goes, and stops gracefully on SIGTERM/SIGINT. Exit code 0
/// after a clean stop, 1 on a start failure or when spans could not be delivered.
void AddServiceCommands(CLI::App& app, int* exit_code);

/// \brief Adds `config check FILE`.
void AddConfigCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
