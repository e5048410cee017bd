// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow send`: sample spans → Arrow → Flight DoPut to a receiver, with its retries.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `send` subcommand: makes a workload of spans and exports it with
/// FlightSpanExporter; exit code 0 when every span was acknowledged, 1 otherwise.
void AddSendCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
