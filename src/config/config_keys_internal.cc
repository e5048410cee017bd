// SPDX-License-Identifier: Apache-2.0

#include "config_keys_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "config_values_internal.h"

namespace otlp_arrow::config::internal {

namespace {

constexpr int64_t kKiB = int64_t{1} << 10;
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;
// gRPC message and Flight buffer sizes are int32.
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

#define OTLP_ARROW_FIELD(member) \
  [](ServiceConfig* config) -> FieldPtr { return &config->member; }

const std::vector<KeySpec> kKeys = {
    {"endpoint", Kind::kEndpoint, 0, 0, OTLP_ARROW_FIELD(endpoint),
     "ARROW_FLIGHT_ENDPOINT"},
    {"batch_size", Kind::kCount, 1, 1'000'000, OTLP_ARROW_FIELD(batch_size), "BATCH_SIZE",
     "spans"},
    {"flush_interval_ms", Kind::kMillis, 1, 3'600'000,
     OTLP_ARROW_FIELD(flush_interval_ms), "FLUSH_INTERVAL_MS"},
    {"buffer_size", Kind::kCount, 1, 100'000'000, OTLP_ARROW_FIELD(buffer_size),
     "BUFFER_SIZE", "spans"},
    {"buffer_bytes", Kind::kBytes, kMiB, 64 * kGiB, OTLP_ARROW_FIELD(buffer_bytes)},
    {"enqueue_timeout_ms", Kind::kMillis, 0, 60'000,
     OTLP_ARROW_FIELD(enqueue_timeout_ms)},
    {"max_batch_bytes", Kind::kBytes, 64 * kKiB, kGiB, OTLP_ARROW_FIELD(max_batch_bytes)},
    {"max_span_bytes", Kind::kBytes, kKiB, kGiB, OTLP_ARROW_FIELD(max_span_bytes)},
    {"max_retries", Kind::kCount, 0, 100, OTLP_ARROW_FIELD(max_retries), {}, "retries"},
    {"retry_backoff_ms", Kind::kMillis, 1, 600'000, OTLP_ARROW_FIELD(retry_backoff_ms)},
    {"retry_max_backoff_ms", Kind::kMillis, 1, 3'600'000,
     OTLP_ARROW_FIELD(retry_max_backoff_ms)},
    {"export_timeout_ms", Kind::kMillis, 0, 3'600'000,
     OTLP_ARROW_FIELD(export_timeout_ms)},
    {"compression", Kind::kCompression, 0, 0, OTLP_ARROW_FIELD(compression)},
    {"shutdown_timeout_ms", Kind::kMillis, 0, 3'600'000,
     OTLP_ARROW_FIELD(shutdown_timeout_ms)},
    {"tls.enabled", Kind::kBool, 0, 0, OTLP_ARROW_FIELD(tls.enabled)},
    {"tls.cert_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(tls.cert_path)},
    {"tls.key_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(tls.key_path)},
    {"tls.ca_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(tls.ca_path)},
    {"tls.server_name", Kind::kHost, 0, 0, OTLP_ARROW_FIELD(tls.server_name)},
    {"auth.token_file", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(auth.token_file)},
    {"listen.otlp_grpc", Kind::kAddress, 0, 0, OTLP_ARROW_FIELD(listen.otlp_grpc)},
    {"listen.otlp_http", Kind::kAddress, 0, 0, OTLP_ARROW_FIELD(listen.otlp_http)},
    {"listen.flight", Kind::kAddress, 0, 0, OTLP_ARROW_FIELD(listen.flight)},
    {"listen.health", Kind::kAddress, 0, 0, OTLP_ARROW_FIELD(listen.health)},
    {"listen.otap", Kind::kAddress, 1, 0, OTLP_ARROW_FIELD(listen.otap)},
    {"otlp.tls.cert_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(otlp.tls.cert_path)},
    {"otlp.tls.key_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(otlp.tls.key_path)},
    {"otlp.tls.client_ca_path", Kind::kPath, 0, 0,
     OTLP_ARROW_FIELD(otlp.tls.client_ca_path)},
    {"otlp.max_otap_streams",
     Kind::kCount,
     0,
     65536,
     OTLP_ARROW_FIELD(otlp.max_otap_streams),
     {},
     "streams"},
    {"otlp.otap_max_stream_dictionary_bytes", Kind::kBytes, kMiB, 64 * kGiB,
     OTLP_ARROW_FIELD(otlp.otap_max_stream_dictionary_bytes)},
    {"otlp.otap_stream_idle_timeout_ms", Kind::kMillis, 0, 86'400'000,
     OTLP_ARROW_FIELD(otlp.otap_stream_idle_timeout_ms)},
    {"otlp.grpc_threads",
     Kind::kCount,
     1,
     1024,
     OTLP_ARROW_FIELD(otlp.grpc_threads),
     {},
     "threads"},
    {"monitoring.metrics_port", Kind::kPort, 0, 65535,
     OTLP_ARROW_FIELD(monitoring.metrics_port)},
    {"monitoring.metrics_host", Kind::kHost, 1, 0,
     OTLP_ARROW_FIELD(monitoring.metrics_host)},
    {"monitoring.verbose_logging", Kind::kBool, 0, 0,
     OTLP_ARROW_FIELD(monitoring.verbose_logging)},
    {"monitoring.log_level", Kind::kLogLevel, 0, 0,
     OTLP_ARROW_FIELD(monitoring.log_level), "OTLP_ARROW_LOG"},
    {"limits.max_request_bytes", Kind::kBytes, kKiB, kInt32Max,
     OTLP_ARROW_FIELD(limits.max_request_bytes)},
    {"limits.max_decompressed_bytes", Kind::kBytes, kKiB, kInt32Max,
     OTLP_ARROW_FIELD(limits.max_decompressed_bytes)},
    {"limits.max_inflight_bytes", Kind::kBytes, kMiB, 64 * kGiB,
     OTLP_ARROW_FIELD(limits.max_inflight_bytes)},
    {"receiver.data_dir", Kind::kPath, 1, 0, OTLP_ARROW_FIELD(receiver.data_dir)},
    {"receiver.durability", Kind::kDurability, 0, 0,
     OTLP_ARROW_FIELD(receiver.durability)},
    {"receiver.max_file_bytes", Kind::kBytes, kMiB, 64 * kGiB,
     OTLP_ARROW_FIELD(receiver.max_file_bytes)},
    {"receiver.max_file_age_ms", Kind::kMillis, 0, 86'400'000,
     OTLP_ARROW_FIELD(receiver.max_file_age_ms)},
    {"receiver.zstd_level",
     Kind::kCount,
     1,
     22,
     OTLP_ARROW_FIELD(receiver.zstd_level),
     {},
     "level"},
    {"receiver.max_row_group_rows",
     Kind::kCount,
     1024,
     100'000'000,
     OTLP_ARROW_FIELD(receiver.max_row_group_rows),
     {},
     "rows"},
    {"receiver.max_batch_bytes", Kind::kBytes, kKiB, kInt32Max,
     OTLP_ARROW_FIELD(receiver.max_batch_bytes)},
    {"receiver.max_concurrent_streams",
     Kind::kCount,
     1,
     4096,
     OTLP_ARROW_FIELD(receiver.max_concurrent_streams),
     {},
     "streams"},
    {"receiver.max_streams_per_client",
     Kind::kCount,
     0,
     4096,
     OTLP_ARROW_FIELD(receiver.max_streams_per_client),
     {},
     "streams"},
    {"receiver.max_decoded_bytes_in_flight", Kind::kBytes, kKiB, int64_t{64} * kGiB,
     OTLP_ARROW_FIELD(receiver.max_decoded_bytes_in_flight)},
    {"receiver.stream_idle_timeout_ms", Kind::kMillis, 0, 3'600'000,
     OTLP_ARROW_FIELD(receiver.stream_idle_timeout_ms)},
    {"receiver.tls.cert_path", Kind::kPath, 0, 0,
     OTLP_ARROW_FIELD(receiver.tls.cert_path)},
    {"receiver.tls.key_path", Kind::kPath, 0, 0, OTLP_ARROW_FIELD(receiver.tls.key_path)},
    {"receiver.tls.client_ca_path", Kind::kPath, 0, 0,
     OTLP_ARROW_FIELD(receiver.tls.client_ca_path)},
};

#undef OTLP_ARROW_FIELD

constexpr std::array<std::pair<std::string_view, transport::FlightCompression>, 3>
    kCompressions = {{
        {"none", transport::FlightCompression::kNone},
        {"lz4", transport::FlightCompression::kLz4},
        {"zstd", transport::FlightCompression::kZstd},
    }};

constexpr std::array<std::pair<std::string_view, storage::WalDurability>, 2>
    kDurabilities = {{
        {"fsync", storage::WalDurability::kFsync},
        {"os", storage::WalDurability::kFlushToOs},
    }};

template <typename Enum, size_t N>
std::string ChoiceNames(const std::array<std::pair<std::string_view, Enum>, N>& choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    names += (names.empty() ? "" : "|") + std::string(name);
  }
  return names;
}

template <typename Enum, size_t N>
arrow::Result<Enum> ParseChoice(
    const std::array<std::pair<std::string_view, Enum>, N>& choices,
    std::string_view text) {
  std::string lower(text);
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [name, value] : choices) {
    if (name == lower) return value;
  }
  return arrow::Status::Invalid("expected one of ", ChoiceNames(choices), ", got ",
                                Quote(text));
}

template <typename Enum, size_t N>
std::string_view ChoiceName(
    const std::array<std::pair<std::string_view, Enum>, N>& choices, Enum value) {
  for (const auto& [name, choice] : choices) {
    if (choice == value) return name;
  }
  return "?";
}

// Stores `value` if the key's field has type T; the table pairs each kind with one
// field type, and the tests set every key, so a mismatch is a bug in the table.
template <typename T>
arrow::Status Store(const KeySpec& spec, ServiceConfig* config, T value) {
  FieldPtr pointer = spec.field(config);
  if (auto* typed = std::get_if<T*>(&pointer)) {
    **typed = std::move(value);
    return arrow::Status::OK();
  }
  return arrow::Status::UnknownError("key ", spec.key, ": its field has another type");
}

}  // namespace

const std::vector<KeySpec>& Keys() { return kKeys; }

const KeySpec* FindKey(std::string_view key) {
  const auto it = std::find_if(kKeys.begin(), kKeys.end(),
                               [&](const KeySpec& spec) { return spec.key == key; });
  return it == kKeys.end() ? nullptr : &*it;
}

const std::vector<std::string>& KeyNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const KeySpec& spec : kKeys) result.emplace_back(spec.key);
    return result;
  }();
  return names;
}

bool IsSection(std::string_view name) {
  const std::string prefix = std::string(name) + ".";
  return std::any_of(kKeys.begin(), kKeys.end(), [&](const KeySpec& spec) {
    return spec.key.substr(0, prefix.size()) == prefix;
  });
}

std::string EnvVar(const KeySpec& spec) {
  if (!spec.env_var.empty()) return std::string(spec.env_var);
  std::string name = "OTLP_ARROW_";
  for (const char c : spec.key) {
    name +=
        c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string TypeText(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::kCount:
      return "integer (" + std::string(spec.unit) + ")";
    case Kind::kBytes:
      return "bytes";
    case Kind::kMillis:
      return "milliseconds";
    case Kind::kPort:
      return "port";
    case Kind::kBool:
      return "boolean";
    case Kind::kPath:
      return "path";
    case Kind::kHost:
      return "host";
    case Kind::kAddress:
      return "host:port";
    case Kind::kEndpoint:
      return "URI";
    case Kind::kCompression:
      return ChoiceNames(kCompressions);
    case Kind::kDurability:
      return ChoiceNames(kDurabilities);
    case Kind::kLogLevel:
      return "trace|debug|info|warn|error|off";
  }
  return "?";
}

std::string ExpectedText(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::kCount:
      return "an integer";
    case Kind::kBytes:
      return "a size in bytes";
    case Kind::kMillis:
      return "a duration in milliseconds";
    case Kind::kPort:
      return "a port number";
    case Kind::kBool:
      return "true or false";
    case Kind::kPath:
      return "a path";
    case Kind::kHost:
      return "a host name or IP address";
    case Kind::kAddress:
      return "host:port";
    case Kind::kEndpoint:
      return "a URI such as grpc://host:port";
    default:
      return "one of " + TypeText(spec);
  }
}

std::string RangeText(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::kCount:
    case Kind::kBytes:
    case Kind::kMillis:
    case Kind::kPort:
      return std::to_string(spec.min) + ".." + std::to_string(spec.max);
    case Kind::kPath:
    case Kind::kHost:
      return spec.min > 0 ? "not empty" : "";
    case Kind::kAddress:
      return spec.min > 0 ? "port 0..65535, empty: off" : "port 0..65535";
    case Kind::kEndpoint:
      return "grpc://, grpc+tcp://, grpc+tls://, grpc+unix://";
    default:
      return "";
  }
}

bool AcceptsNull(const KeySpec& spec) {
  return ((spec.kind == Kind::kPath || spec.kind == Kind::kHost) && spec.min == 0) ||
         (spec.kind == Kind::kAddress && spec.min > 0);
}

arrow::Status SetValue(const KeySpec& spec, std::string_view text, ServiceConfig* config,
                       std::vector<std::string>* warnings) {
  switch (spec.kind) {
    case Kind::kCount:
    case Kind::kBytes:
    case Kind::kMillis:
    case Kind::kPort: {
      ARROW_ASSIGN_OR_RAISE(const int64_t value,
                            ParseInteger(text, spec.kind == Kind::kBytes));
      if (value < spec.min || value > spec.max) {
        return arrow::Status::Invalid(value, " is out of range ", spec.min, "..",
                                      spec.max);
      }
      if (spec.kind == Kind::kMillis) {
        return Store(spec, config, std::chrono::milliseconds(value));
      }
      if (std::holds_alternative<int*>(spec.field(config))) {
        return Store(spec, config, static_cast<int>(value));
      }
      return Store(spec, config, value);
    }
    case Kind::kBool: {
      ARROW_ASSIGN_OR_RAISE(const bool value, ParseBool(text));
      return Store(spec, config, value);
    }
    case Kind::kPath:
      if (spec.min > 0 && text.empty())
        return arrow::Status::Invalid("must not be empty");
      if (text.find('\0') != std::string_view::npos) {
        return arrow::Status::Invalid("a path cannot hold a NUL character");
      }
      return Store(spec, config, std::string(text));
    case Kind::kHost:
      if (!text.empty() || spec.min > 0) ARROW_RETURN_NOT_OK(ValidateHost(text));
      return Store(spec, config, std::string(text));
    case Kind::kAddress: {
      if (text.empty() && spec.min > 0) return Store(spec, config, std::string());
      ARROW_RETURN_NOT_OK(ParseHostPort(text, /*min_port=*/0).status());
      return Store(spec, config, std::string(text));
    }
    case Kind::kEndpoint: {
      ARROW_ASSIGN_OR_RAISE(Endpoint endpoint, ParseEndpoint(text));
      if (endpoint.alias && warnings != nullptr) {
        warnings->push_back(std::string(spec.key) + ": " + Quote(text) + " taken as " +
                            Quote(endpoint.uri) + " (Arrow Flight speaks gRPC; write " +
                            endpoint.scheme + "://)");
      }
      return Store(spec, config, std::move(endpoint.uri));
    }
    case Kind::kCompression: {
      ARROW_ASSIGN_OR_RAISE(const auto value, ParseChoice(kCompressions, text));
      return Store(spec, config, value);
    }
    case Kind::kDurability: {
      ARROW_ASSIGN_OR_RAISE(const auto value, ParseChoice(kDurabilities, text));
      return Store(spec, config, value);
    }
    case Kind::kLogLevel: {
      ARROW_ASSIGN_OR_RAISE(const LogLevel value, ParseLogLevel(text));
      return Store(spec, config, value);
    }
  }
  return arrow::Status::UnknownError("key ", spec.key, ": unknown kind");
}

std::string FormatValue(const KeySpec& spec, const ServiceConfig& config, bool yaml) {
  // The accessor hands out a mutable pointer; it is only read here.
  const FieldPtr field = spec.field(const_cast<ServiceConfig*>(&config));
  const auto text = [yaml](std::string_view value) {
    return yaml ? Quote(value) : std::string(value);
  };
  struct Visitor {
    const decltype(text)& quoted;
    std::string operator()(const int64_t* value) const { return std::to_string(*value); }
    std::string operator()(const int* value) const { return std::to_string(*value); }
    std::string operator()(const bool* value) const { return *value ? "true" : "false"; }
    std::string operator()(const std::string* value) const { return quoted(*value); }
    std::string operator()(const std::chrono::milliseconds* value) const {
      return std::to_string(value->count());
    }
    std::string operator()(const transport::FlightCompression* value) const {
      return quoted(ChoiceName(kCompressions, *value));
    }
    std::string operator()(const storage::WalDurability* value) const {
      return quoted(ChoiceName(kDurabilities, *value));
    }
    std::string operator()(const LogLevel* value) const {
      return quoted(ToString(*value));
    }
  };
  return std::visit(Visitor{text}, field);
}

}  // namespace otlp_arrow::config::internal
