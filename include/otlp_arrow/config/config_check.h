// SPDX-License-Identifier: Apache-2.0
// `otlp-arrow config check FILE`.

#pragma once

#include <ostream>
#include <string>

namespace otlp_arrow::config {

/// \brief Checks the configuration file `path` on its own (no environment, no flags, so
/// that CI checks the file and not the machine it runs on) and writes the verdict to
/// `out`: `config OK: <path>` and a one-line summary, then any warnings, or `config
/// INVALID: <path>` and one line per error.
///
/// Goes through what `gateway`, `receiver` and `all-in-one` do at start-up
/// (MakeComponentOptions), so that a file accepted here starts. Files the configuration
/// names (certificates, keys, the token) are read and checked when readable here;
/// unreadable ones are warnings, since CI rarely has the secrets.
///
/// \return the exit code: 0 valid, 1 invalid or unreadable.
int RunConfigCheck(const std::string& path, std::ostream& out);

}  // namespace otlp_arrow::config
