// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/config/service_config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "config_keys_internal.h"
#include "config_values_internal.h"
#include "otlp_arrow/common/file.h"

extern char** environ;

namespace otlp_arrow::config {

using internal::KeySpec;

std::string_view ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "?";
}

arrow::Result<LogLevel> ParseLogLevel(std::string_view text) {
  std::string lower(text);
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // spdlog and Python say `warning`.
  if (lower == "warning") return LogLevel::kWarn;
  for (LogLevel level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo,
                         LogLevel::kWarn, LogLevel::kError, LogLevel::kOff}) {
    if (lower == ToString(level)) return level;
  }
  return arrow::Status::Invalid("expected one of trace|debug|info|warn|error|off, got ",
                                internal::Quote(text));
}

LogLevel MonitoringConfig::EffectiveLogLevel() const {
  return verbose_logging ? std::min(log_level, LogLevel::kDebug) : log_level;
}

std::string MonitoringConfig::MetricsAddress() const {
  const bool bare_ipv6 =
      metrics_host.find(':') != std::string::npos && metrics_host.front() != '[';
  return (bare_ipv6 ? "[" + metrics_host + "]" : metrics_host) + ":" +
         std::to_string(metrics_port);
}

std::string ListenConfig::DefaultFlightListenAddress() {
  const std::string uri = transport::FlightSpanReceiverOptions::Defaults().listen_uri;
  const auto separator = uri.find("://");
  return separator == std::string::npos ? uri : uri.substr(separator + 3);
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    environment.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return environment;
}

namespace {

std::string YamlLocation(std::string_view file, const YAML::Mark& mark) {
  if (mark.is_null()) return std::string(file);
  return std::string(file) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

std::string_view NodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "no value";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// The scheme of a URI and what follows `://`.
std::pair<std::string, std::string> SplitUri(const std::string& uri) {
  const auto separator = uri.find("://");
  if (separator == std::string::npos) return {"", uri};
  return {uri.substr(0, separator), uri.substr(separator + 3)};
}

// Collects the values of the layers and everything wrong with them, then checks the
// rules that relate keys to each other.
class Loader {
 public:
  // `loading`: values come from sources, and those left alone are defaults worth
  // saying so; false when checking a configuration built in code.
  Loader(LoadedServiceConfig* out, bool loading) : out_(out), loading_(loading) {}

  void Error(const std::string& where, const std::string& message) {
    errors_.push_back(where.empty() ? message : where + ": " + message);
  }

  void Warn(const std::string& where, const std::string& message) {
    out_->warnings.push_back(where.empty() ? message : where + ": " + message);
  }

  // Parses `text` into the key's field; `where` is the value's source.
  void Set(const KeySpec& spec, std::string_view text, const std::string& where) {
    std::vector<std::string> warnings;
    const arrow::Status status = internal::SetValue(spec, text, &out_->config, &warnings);
    if (!status.ok()) {
      Error(where, std::string(spec.key) + ": " + status.message());
      return;
    }
    for (const std::string& warning : warnings) Warn(where, warning);
    out_->origins[std::string(spec.key)] = where;
  }

  void UnknownKey(const std::string& where, const std::string& key) {
    // Sections too, for a misspelt section (`monitor:`).
    static const std::vector<std::string> names = [] {
      std::vector<std::string> result = internal::KeyNames();
      for (const std::string& name : internal::KeyNames()) {
        for (auto dot = name.find('.'); dot != std::string::npos;
             dot = name.find('.', dot + 1)) {
          const std::string section = name.substr(0, dot);
          if (std::find(result.begin(), result.end(), section) == result.end()) {
            result.push_back(section);
          }
        }
      }
      return result;
    }();
    Error(where,
          key + ": unknown key" + internal::DidYouMean(internal::Suggest(key, names)));
  }

  void ReadYaml(std::string_view text, const std::string& file) {
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      Error(YamlLocation(file, e.mark), "YAML syntax error: " + e.msg);
      return;
    } catch (const std::exception& e) {
      Error(file, std::string("cannot parse YAML: ") + e.what());
      return;
    }
    if (documents.size() > 1) {
      Error(YamlLocation(file, documents[1].Mark()),
            "a second YAML document; a configuration file holds one");
      return;
    }
    if (documents.empty() || documents[0].IsNull()) return;  // empty: the defaults
    try {
      if (!documents[0].IsMap()) {
        Error(YamlLocation(file, documents[0].Mark()),
              "expected a map of configuration keys, got " +
                  std::string(NodeKind(documents[0])));
        return;
      }
      ReadMap(documents[0], "", file);
    } catch (const YAML::Exception& e) {
      Error(YamlLocation(file, e.mark), e.msg);
    }
  }

  void ReadEnvironment(const std::map<std::string, std::string>& environment) {
    std::set<std::string> known = {std::string(kConfigPathEnvVar)};
    for (const KeySpec& spec : internal::Keys()) {
      const std::string name = internal::EnvVar(spec);
      known.insert(name);
      const auto it = environment.find(name);
      if (it == environment.end() || it->second.empty()) continue;
      Set(spec, it->second, "environment variable " + name);
    }
    for (const auto& [name, value] : environment) {
      if (name.rfind("OTLP_ARROW_", 0) != 0 || known.count(name) > 0) continue;
      Warn("environment variable " + name,
           "not a configuration variable, ignored" + SuggestEnvVar(name));
    }
  }

  void ReadFlags(const std::map<std::string, FlagValue>& flags) {
    for (const auto& [key, flag] : flags) {
      const std::string where =
          "flag " + (flag.flag.empty() ? "--set " + key + "=" + flag.value : flag.flag);
      if (internal::IsSection(key)) {
        Error(where,
              key + ": is a section; set one of its keys, such as " + FirstKeyOf(key));
        continue;
      }
      const KeySpec* spec = internal::FindKey(key);
      if (spec == nullptr) {
        UnknownKey(where, key);
        continue;
      }
      Set(*spec, flag.value, where);
    }
  }

  // The rules between keys; skipped when a value is already wrong, since its key then
  // holds a stale value that would only add confusing errors.
  void Finish() {
    if (!errors_.empty()) return;
    ServiceConfig& config = out_->config;
    const auto [scheme, rest] = SplitUri(config.endpoint);
    if (scheme == "grpc+tls" && !config.tls.enabled) {
      if (out_->origins.count("tls.enabled") > 0) {
        Error(Location("tls.enabled"), "tls.enabled: false, but endpoint " +
                                           internal::Quote(config.endpoint) +
                                           From("endpoint") + " uses TLS");
      } else {
        config.tls.enabled = true;
      }
    } else if (config.tls.enabled && (scheme == "grpc" || scheme == "grpc+tcp")) {
      // The seed keeps TLS apart from the endpoint; the exporter reads the scheme.
      config.endpoint = "grpc+tls://" + rest;
    }
    CheckRules(config);
  }

  // Rules that hold for any configuration, loaded or built in code.
  void CheckRules(const ServiceConfig& config) {
    const auto [scheme, rest] = SplitUri(config.endpoint);
    if (config.buffer_size < config.batch_size) {
      Conflict("buffer_size", "batch_size",
               "buffer_size " + std::to_string(config.buffer_size) +
                   " is less than batch_size " + std::to_string(config.batch_size) +
                   From("batch_size") + "; the queue must hold a whole batch");
    }
    if (config.retry_backoff_ms > config.retry_max_backoff_ms) {
      Conflict("retry_backoff_ms", "retry_max_backoff_ms",
               "retry_backoff_ms " + std::to_string(config.retry_backoff_ms.count()) +
                   " is more than retry_max_backoff_ms " +
                   std::to_string(config.retry_max_backoff_ms.count()) +
                   From("retry_max_backoff_ms"));
    }
    if (config.limits.max_decompressed_bytes < config.limits.max_request_bytes) {
      Conflict("limits.max_decompressed_bytes", "limits.max_request_bytes",
               "limits.max_decompressed_bytes " +
                   std::to_string(config.limits.max_decompressed_bytes) +
                   " is less than limits.max_request_bytes " +
                   std::to_string(config.limits.max_request_bytes) +
                   From("limits.max_request_bytes") +
                   "; an uncompressed request that fits the one would fail the other");
    }
    if (config.receiver.max_decoded_bytes_in_flight < config.receiver.max_batch_bytes) {
      Conflict("receiver.max_decoded_bytes_in_flight", "receiver.max_batch_bytes",
               "receiver.max_decoded_bytes_in_flight " +
                   std::to_string(config.receiver.max_decoded_bytes_in_flight) +
                   " is less than receiver.max_batch_bytes " +
                   std::to_string(config.receiver.max_batch_bytes) +
                   From("receiver.max_batch_bytes") +
                   "; no batch of the largest size could ever be decoded");
    }
    // Whatever the gateway takes it must be able to deliver: a chunk holds up to
    // max_batch_bytes, or one span of up to max_span_bytes with dictionaries it may
    // share with its batch, and the receiver refuses for good what is larger than its
    // limit.
    if (config.max_batch_bytes + config.max_span_bytes >
        config.receiver.max_batch_bytes) {
      Conflict("max_span_bytes", "receiver.max_batch_bytes",
               "max_batch_bytes " + std::to_string(config.max_batch_bytes) +
                   From("max_batch_bytes") + " + max_span_bytes " +
                   std::to_string(config.max_span_bytes) + From("max_span_bytes") +
                   " is more than receiver.max_batch_bytes " +
                   std::to_string(config.receiver.max_batch_bytes) +
                   From("receiver.max_batch_bytes") +
                   "; the receiver would refuse spans the gateway acknowledged");
    }
    if (config.limits.max_inflight_bytes < 6 * config.limits.max_request_bytes) {
      // An uncompressed protobuf request costs its body and 5 times that to decode.
      Conflict("limits.max_inflight_bytes", "limits.max_request_bytes",
               "limits.max_inflight_bytes " +
                   std::to_string(config.limits.max_inflight_bytes) +
                   " is less than 6 × limits.max_request_bytes " +
                   std::to_string(config.limits.max_request_bytes) +
                   From("limits.max_request_bytes") +
                   "; a request of the largest size could never be decoded");
    }
    CheckClientTls(config, scheme);
    Needs(config.tls.cert_path, "tls.cert_path", config.tls.key_path, "tls.key_path",
          "mutual TLS needs both");
    Needs(config.tls.key_path, "tls.key_path", config.tls.cert_path, "tls.cert_path",
          "mutual TLS needs both");
    CheckServerTls(config.receiver.tls, "receiver.tls.");
    CheckServerTls(config.otlp.tls, "otlp.tls.");
    CheckListeners(config);
  }

  std::vector<std::string> TakeErrors() { return std::move(errors_); }

 private:
  void ReadMap(const YAML::Node& map, const std::string& prefix,
               const std::string& file) {
    std::map<std::string, YAML::Mark> seen;
    // By value: the iterator's operator-> returns a proxy, so a reference to
    // `it->first` would outlive it.
    for (const auto& entry : map) {
      const YAML::Node key_node = entry.first;
      const YAML::Node value = entry.second;
      const std::string key_where = YamlLocation(file, key_node.Mark());
      if (!key_node.IsScalar()) {
        Error(key_where, "expected a key name, got " + std::string(NodeKind(key_node)));
        continue;
      }
      const std::string key = prefix + key_node.Scalar();
      // yaml-cpp keeps both entries of a repeated key; which one wins would be a guess.
      if (const auto [first, inserted] = seen.emplace(key, key_node.Mark()); !inserted) {
        Error(key_where, key + ": repeated; first at line " +
                             std::to_string(first->second.line + 1));
        continue;
      }
      // A null value's mark is where the next token starts, often the next line.
      const std::string value_where = value.IsNull() || value.Mark().is_null()
                                          ? key_where
                                          : YamlLocation(file, value.Mark());
      if (internal::IsSection(key)) {
        if (value.IsNull()) continue;  // `tls:` with nothing under it, or `tls: null`
        if (!value.IsMap()) {
          Error(value_where, key + ": expected a map of " + key + ".* keys, got " +
                                 std::string(NodeKind(value)));
          continue;
        }
        ReadMap(value, key + ".", file);
        continue;
      }
      const KeySpec* spec = internal::FindKey(key);
      if (spec == nullptr) {
        UnknownKey(key_where, key);
        continue;
      }
      if (value.IsNull() && internal::AcceptsNull(*spec)) {
        Set(*spec, "", value_where);
      } else if (!value.IsScalar()) {
        Error(value_where, key + ": expected " + internal::ExpectedText(*spec) +
                               ", got " + std::string(NodeKind(value)));
      } else {
        Set(*spec, value.Scalar(), value_where);
      }
    }
  }

  static std::string SuggestEnvVar(const std::string& name) {
    std::vector<std::string> candidates;
    const std::string bare = name.substr(std::string_view("OTLP_ARROW_").size());
    for (const KeySpec& spec : internal::Keys()) {
      const std::string env_var = internal::EnvVar(spec);
      if (spec.env_var.empty()) {
        candidates.push_back(env_var);
        continue;
      }
      // A key with a name of its own (BATCH_SIZE, ARROW_FLIGHT_ENDPOINT, OTLP_ARROW_LOG)
      // has no OTLP_ARROW_<KEY> name; point there from both spellings.
      const std::string generic = internal::EnvVar(KeySpec{spec.key, spec.kind});
      if (name == generic || bare == env_var) return "; did you mean " + env_var + "?";
      candidates.push_back(env_var);
    }
    return internal::DidYouMean(internal::Suggest(name, candidates));
  }

  static std::string FirstKeyOf(const std::string& section) {
    for (const KeySpec& spec : internal::Keys()) {
      if (spec.key.rfind(section + ".", 0) == 0) return std::string(spec.key);
    }
    return section;
  }

  // ` (where the value of `key` came from)`, for messages that name a second key.
  std::string From(const std::string& key) const {
    const auto it = out_->origins.find(key);
    if (it != out_->origins.end()) return " (" + it->second + ")";
    return loading_ ? " (default)" : "";
  }

  // Where the value of `key` came from; empty for a default.
  std::string Location(const std::string& key) const {
    const auto it = out_->origins.find(key);
    return it == out_->origins.end() ? "" : it->second;
  }

  // Reports a rule broken by `key` and `other` at the one the user set, preferring
  // `key` when both or neither were set.
  void Conflict(const std::string& key, const std::string& other,
                const std::string& message) {
    const bool key_set = out_->origins.count(key) > 0;
    const bool other_set = out_->origins.count(other) > 0;
    Error(Location(!key_set && other_set ? other : key), message);
  }

  void Needs(const std::string& value, const std::string& key, const std::string& needed,
             const std::string& needed_key, const std::string& why) {
    if (value.empty() || !needed.empty()) return;
    Error(Location(key), key + " is set but " + needed_key + " is not; " + why);
  }

  void CheckServerTls(const ServerTlsConfig& tls, const std::string& prefix) {
    Needs(tls.cert_path, prefix + "cert_path", tls.key_path, prefix + "key_path",
          "a TLS server needs both");
    Needs(tls.key_path, prefix + "key_path", tls.cert_path, prefix + "cert_path",
          "a TLS server needs both");
    Needs(tls.client_ca_path, prefix + "client_ca_path", tls.cert_path,
          prefix + "cert_path", "client certificates are checked over TLS only");
  }

  void CheckClientTls(const ServiceConfig& config, const std::string& scheme) {
    const std::pair<const char*, const std::string*> settings[] = {
        {"tls.cert_path", &config.tls.cert_path},
        {"tls.key_path", &config.tls.key_path},
        {"tls.ca_path", &config.tls.ca_path},
        {"tls.server_name", &config.tls.server_name},
    };
    if (scheme == "grpc+unix") {
      if (config.tls.enabled) {
        Conflict("tls.enabled", "endpoint",
                 "tls.enabled: true, but endpoint " + internal::Quote(config.endpoint) +
                     " is a Unix socket, which Flight does not secure with TLS");
      }
      return;
    }
    const bool tls = scheme == "grpc+tls" || config.tls.enabled;
    if (tls) return;
    for (const auto& [key, value] : settings) {
      if (value->empty()) continue;
      Error(Location(key), std::string(key) + " is set but TLS is off (endpoint " +
                               internal::Quote(config.endpoint) +
                               ", tls.enabled false); set tls.enabled: true or use a "
                               "grpc+tls:// endpoint");
    }
  }

  // gRPC servers bind with SO_REUSEPORT, so two of ours on one port would both start
  // and share the connections instead of failing.
  void CheckListeners(const ServiceConfig& config) {
    struct Listener {
      std::string key;
      std::string address;
      bool http_operations;  // health or metrics: may share one listener
    };
    const Listener listeners[] = {
        {"listen.otlp_grpc", config.listen.otlp_grpc, false},
        {"listen.otlp_http", config.listen.otlp_http, false},
        {"listen.flight", config.listen.flight, false},
        {"listen.health", config.listen.health, true},
        {"listen.otap", config.listen.otap, false},
        {"monitoring.metrics_port", config.monitoring.MetricsAddress(), true},
    };
    for (size_t i = 0; i < std::size(listeners); ++i) {
      if (listeners[i].address.empty()) continue;  // a listener turned off
      auto a = internal::ParseHostPort(listeners[i].address, 0);
      if (!a.ok()) {
        Error(Location(listeners[i].key), listeners[i].key + ": " + a.status().message());
        continue;
      }
      for (size_t j = i + 1; j < std::size(listeners); ++j) {
        if (listeners[i].http_operations && listeners[j].http_operations) continue;
        if (listeners[j].address.empty()) continue;
        auto b = internal::ParseHostPort(listeners[j].address, 0);
        if (!b.ok() || a->port == 0 || a->port != b->port) continue;
        std::string host_a = a->host, host_b = b->host;
        for (std::string* host : {&host_a, &host_b}) {
          for (char& c : *host) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
        }
        if (host_a != host_b && !internal::IsWildcardHost(host_a) &&
            !internal::IsWildcardHost(host_b)) {
          continue;
        }
        Conflict(listeners[j].key, listeners[i].key,
                 listeners[j].key + " " + listeners[j].address + " overlaps " +
                     listeners[i].key + " " + listeners[i].address +
                     From(listeners[i].key) + "; each listener needs its own port");
      }
    }
  }

  LoadedServiceConfig* out_;
  const bool loading_;
  std::vector<std::string> errors_;
};

arrow::Status ErrorsToStatus(std::vector<std::string> errors) {
  if (errors.empty()) return arrow::Status::OK();
  if (errors.size() == 1) return arrow::Status::Invalid(errors[0]);
  std::string message = std::to_string(errors.size()) + " configuration errors:";
  for (const std::string& error : errors) message += "\n  " + error;
  return arrow::Status::Invalid(message);
}

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

std::string ToYamlImpl(const ServiceConfig& config,
                       const std::map<std::string, std::string>* origins) {
  std::string out =
      "# otlp-arrow configuration; every key is described in docs/configuration.md\n";
  std::vector<std::string> open_sections;
  for (const KeySpec& spec : internal::Keys()) {
    std::vector<std::string> parts;
    std::string_view key = spec.key;
    for (auto dot = key.find('.'); dot != std::string_view::npos; dot = key.find('.')) {
      parts.emplace_back(key.substr(0, dot));
      key.remove_prefix(dot + 1);
    }
    size_t common = 0;
    while (common < parts.size() && common < open_sections.size() &&
           parts[common] == open_sections[common]) {
      ++common;
    }
    for (size_t depth = common; depth < parts.size(); ++depth) {
      if (depth == 0) out += "\n";
      out += std::string(2 * depth, ' ') + parts[depth] + ":\n";
    }
    open_sections = parts;
    out += std::string(2 * parts.size(), ' ') + std::string(key) + ": " +
           internal::FormatValue(spec, config, /*yaml=*/true);
    if (origins != nullptr) {
      if (const auto it = origins->find(std::string(spec.key)); it != origins->end()) {
        out += "  # from " + OneLine(it->second);
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace

arrow::Result<LoadedServiceConfig> LoadServiceConfig(const ConfigSources& sources) {
  const std::map<std::string, std::string> environment =
      sources.environment ? *sources.environment : ProcessEnvironment();
  LoadedServiceConfig loaded;
  if (sources.config_path) {
    loaded.config_file = *sources.config_path;
  } else if (const auto it = environment.find(std::string(kConfigPathEnvVar));
             it != environment.end() && !it->second.empty()) {
    loaded.config_file = it->second;
  } else if (std::error_code error;
             std::filesystem::exists(sources.default_config_path, error)) {
    loaded.config_file = sources.default_config_path;
  }

  Loader loader(&loaded, /*loading=*/true);
  if (!loaded.config_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(const std::string text,
                          common::ReadWholeFile(loaded.config_file, "config file"));
    loader.ReadYaml(text, loaded.config_file);
  }
  loader.ReadEnvironment(environment);
  loader.ReadFlags(sources.flags);
  loader.Finish();
  ARROW_RETURN_NOT_OK(ErrorsToStatus(loader.TakeErrors()));
  return loaded;
}

arrow::Result<LoadedServiceConfig> ParseServiceConfig(std::string_view yaml,
                                                      std::string_view file_name) {
  LoadedServiceConfig loaded;
  loaded.config_file = std::string(file_name);
  Loader loader(&loaded, /*loading=*/true);
  loader.ReadYaml(yaml, loaded.config_file);
  loader.Finish();
  ARROW_RETURN_NOT_OK(ErrorsToStatus(loader.TakeErrors()));
  return loaded;
}

arrow::Status ValidateServiceConfig(const ServiceConfig& config) {
  LoadedServiceConfig scratch;
  Loader loader(&scratch, /*loading=*/false);
  // Every value goes through the parser that a file's value would: ranges, addresses,
  // the endpoint. A value the parser would rewrite (an http:// endpoint) is refused:
  // the options structs take only the rewritten form.
  for (const KeySpec& spec : internal::Keys()) {
    const std::string text = internal::FormatValue(spec, config, /*yaml=*/false);
    loader.Set(spec, text, "");
    const std::string parsed = internal::FormatValue(spec, scratch.config, false);
    if (parsed != text && scratch.origins.count(std::string(spec.key)) > 0) {
      loader.Error("", std::string(spec.key) + ": write " + internal::Quote(parsed) +
                           " rather than " + internal::Quote(text));
    }
  }
  scratch.origins.clear();
  std::vector<std::string> errors = loader.TakeErrors();
  if (errors.empty()) {
    loader.CheckRules(config);
    errors = loader.TakeErrors();
  }
  return ErrorsToStatus(std::move(errors));
}

std::string ToYaml(const ServiceConfig& config) { return ToYamlImpl(config, nullptr); }

std::string ToYaml(const LoadedServiceConfig& loaded) {
  return ToYamlImpl(loaded.config, &loaded.origins);
}

const std::vector<ConfigKeyInfo>& ConfigKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    const ServiceConfig defaults;
    std::vector<ConfigKeyInfo> result;
    for (const KeySpec& spec : internal::Keys()) {
      result.push_back({std::string(spec.key), internal::EnvVar(spec),
                        internal::TypeText(spec), internal::RangeText(spec),
                        internal::FormatValue(spec, defaults, /*yaml=*/false)});
    }
    return result;
  }();
  return keys;
}

}  // namespace otlp_arrow::config
