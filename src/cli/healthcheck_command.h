// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow healthcheck`: GET /health (or /ready) of a running otlp-arrow, for a
// container's HEALTHCHECK in an image that has no curl.

#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace otlp_arrow::cli {

/// \brief Adds the `healthcheck` subcommand: one GET on the health listener named by the
/// configuration (read as the services read it) or by `--url`. Exit code 0 on a 2xx
/// answer, 1 otherwise (a refused connection, a timeout, another status, a configuration
/// that names no reachable port), with a one-line reason on stderr. Never 2: Docker
/// reserves that HEALTHCHECK exit code.
void AddHealthcheckCommand(CLI::App& app, int* exit_code);

}  // namespace otlp_arrow::cli
