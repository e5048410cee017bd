// SPDX-License-Identifier: Apache-2.0
// The table of configuration keys: one entry per leaf key, with its type, range,
// environment variable and the ServiceConfig field it sets. Loading, validation,
// printing and the key list all go through it, so a key is added in one place.

#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <arrow/status.h>

#include "otlp_arrow/config/service_config.h"

namespace otlp_arrow::config::internal {

/// \brief How a key's text is parsed and checked.
enum class Kind {
  kCount,        ///< integer in min..max
  kBytes,        ///< integer in min..max, also with KiB/MiB/GiB/TiB
  kMillis,       ///< integer milliseconds in min..max
  kPort,         ///< integer port in min..max
  kBool,         ///< true/false
  kPath,         ///< file or directory; min 1: must not be empty
  kHost,         ///< host name or IP address; min 0: may be empty
  kAddress,      ///< host:port, port 0..65535; min 1: may be empty (listener off)
  kEndpoint,     ///< Flight URI, normalized
  kCompression,  ///< none|lz4|zstd
  kDurability,   ///< fsync|os
  kLogLevel,     ///< trace|debug|info|warn|error|off
};

using FieldPtr =
    std::variant<int64_t*, int*, bool*, std::string*, std::chrono::milliseconds*,
                 transport::FlightCompression*, storage::WalDurability*, LogLevel*>;

struct KeySpec {
  /// \brief Dotted key.
  std::string_view key;
  Kind kind;
  int64_t min = 0;
  int64_t max = 0;
  /// \brief The field of `config` this key sets.
  FieldPtr (*field)(ServiceConfig* config) = nullptr;
  /// \brief Environment variable; empty: OTLP_ARROW_ and the key in upper case with
  /// `_` for `.`.
  std::string_view env_var = {};
  /// \brief What a kCount counts, for the type text.
  std::string_view unit = {};
};

/// \brief Every key, in the order ToYaml writes them (a section's keys together).
const std::vector<KeySpec>& Keys();

/// \brief The entry of `key`, or null.
const KeySpec* FindKey(std::string_view key);

/// \brief Every dotted key, for suggestions.
const std::vector<std::string>& KeyNames();

/// \brief Whether `name` is a section (`tls`, `receiver`, `receiver.tls`, …).
bool IsSection(std::string_view name);

/// \brief The environment variable that sets `spec`.
std::string EnvVar(const KeySpec& spec);

/// \brief E.g. `integer (spans)`, `milliseconds`, `none|lz4|zstd`.
std::string TypeText(const KeySpec& spec);

/// \brief What a value should be, for messages: `an integer`, `true or false`, ….
std::string ExpectedText(const KeySpec& spec);

/// \brief E.g. `1..1000000`; empty when TypeText says it all.
std::string RangeText(const KeySpec& spec);

/// \brief Whether a YAML null is a valid value (it means ""): true for optional
/// strings, as the seed's `ca_path: Option<String>`.
bool AcceptsNull(const KeySpec& spec);

/// \brief Parses `text` and stores it in `config`. An `http(s)://` endpoint adds a
/// warning. The error message names neither the key nor the source; the caller does.
arrow::Status SetValue(const KeySpec& spec, std::string_view text, ServiceConfig* config,
                       std::vector<std::string>* warnings);

/// \brief The value of `spec` in `config`: as YAML (strings quoted) or as plain text
/// (as an environment variable would give it).
std::string FormatValue(const KeySpec& spec, const ServiceConfig& config, bool yaml);

}  // namespace otlp_arrow::config::internal
