// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow loadgen`: OTLP trace requests at a set rate or flat out, over gRPC or HTTP,
// from several connections; prints the achieved rate, refusals and latency.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `loadgen` subcommand. Exit code 0 when at least one request was
/// accepted and none failed for another reason than backpressure, 1 otherwise.
void AddLoadgenCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
