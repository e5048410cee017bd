// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow diagnose`: why can't the exporter reach the receiver? (design document
// §6.1)

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `diagnose` subcommand: one ✅/❌ line per step with the likely fix;
/// exit code 0 when every step passes, 1 otherwise.
void AddDiagnoseCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
