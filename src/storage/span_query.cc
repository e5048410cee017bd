// SPDX-License-Identifier: Apache-2.0

#include <charconv>

#include <nlohmann/json.hpp>

#include "otlp_arrow/common/hex.h"
#include "otlp_arrow/storage/span_sink.h"

namespace otlp_arrow::storage {

namespace {

arrow::Result<std::string> Unhex(const std::string& hex) {
  if (hex.size() != 32) return arrow::Status::Invalid("trace_id: expected 32 hex digits");
  std::string out(16, '\0');
  for (size_t i = 0; i < 16; ++i) {
    uint8_t v = 0;
    auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || end != hex.data() + 2 * i + 2) {
      return arrow::Status::Invalid("trace_id: not hex: ", hex);
    }
    out[i] = static_cast<char>(v);
  }
  return out;
}

arrow::Result<uint64_t> UInt64(const nlohmann::json& j, const char* key) {
  uint64_t v = 0;
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return v;
  }
  return arrow::Status::Invalid(key, ": expected an unsigned integer (as a string)");
}

}  // namespace

std::string SpanQuery::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (start_time_min_unix_nano) {
    j["start_time_min_unix_nano"] = std::to_string(*start_time_min_unix_nano);
  }
  if (start_time_max_unix_nano) {
    j["start_time_max_unix_nano"] = std::to_string(*start_time_max_unix_nano);
  }
  if (trace_id) j["trace_id"] = common::LowerHex(*trace_id);
  return j.dump();
}

arrow::Result<SpanQuery> SpanQuery::FromJson(std::string_view json) {
  SpanQuery query;
  if (json.empty()) return query;  // no command: everything
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                 /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return arrow::Status::Invalid("span query: expected a JSON object");
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "start_time_min_unix_nano") {
      ARROW_ASSIGN_OR_RAISE(query.start_time_min_unix_nano, UInt64(value, key.c_str()));
    } else if (key == "start_time_max_unix_nano") {
      ARROW_ASSIGN_OR_RAISE(query.start_time_max_unix_nano, UInt64(value, key.c_str()));
    } else if (key == "trace_id") {
      if (!value.is_string())
        return arrow::Status::Invalid("trace_id: expected a string");
      ARROW_ASSIGN_OR_RAISE(query.trace_id, Unhex(value.get<std::string>()));
    } else {
      return arrow::Status::Invalid("span query: unknown key '", key, "'");
    }
  }
  return query;
}

}  // namespace otlp_arrow::storage
