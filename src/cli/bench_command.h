// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow bench`: the span table against OTLP protobuf on the same spans (issue #5).

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `bench` subcommand to `app`. It measures encode, decode, round trip,
/// heap and sizes for Arrow and Protobuf (bench::Run), prints the table and optionally
/// writes JSON; `*exit_code` is 0, or 1 when a measurement fails or a round trip does
/// not give back its input.
void AddBenchCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
