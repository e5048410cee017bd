// SPDX-License-Identifier: Apache-2.0
// Building blocks of the OTLP/JSON codec shared by its value and request halves.

#pragma once

#include <string>
#include <string_view>

#include <arrow/status.h>
#include <nlohmann/json.hpp>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::model::internal {

/// Appends `s` as a JSON string literal; fails on invalid UTF-8.
arrow::Status AppendJsonString(std::string_view s, std::string* out);
/// Appends a double as OTLP/JSON: shortest exact form, "-0.0", "NaN", "Infinity".
void AppendJsonDouble(double v, std::string* out);

arrow::Status AppendAnyValue(const otlp::AnyValue& value, std::string* out);
arrow::Status AppendKeyValues(
    const google::protobuf::RepeatedPtrField<otlp::KeyValue>& kvs, std::string* out);

/// Finds `camel` or `snake` in object `j`; null if neither is there.
const nlohmann::json* Member(const nlohmann::json& j, const char* camel,
                             const char* snake);

arrow::Status ParseAnyValue(const nlohmann::json& j, const std::string& path,
                            otlp::AnyValue* out);
arrow::Status ParseKeyValues(const nlohmann::json& j, const std::string& path,
                             google::protobuf::RepeatedPtrField<otlp::KeyValue>* out);
arrow::Status ParseInt64(const nlohmann::json& j, const std::string& path, int64_t* out);
arrow::Status ParseUInt64(const nlohmann::json& j, const std::string& path,
                          uint64_t* out);
arrow::Status ParseUInt32(const nlohmann::json& j, const std::string& path,
                          uint32_t* out);
arrow::Status ParseDouble(const nlohmann::json& j, const std::string& path, double* out);
arrow::Status ParseString(const nlohmann::json& j, const std::string& path,
                          std::string* out);

/// Parses `text` into a DOM without exceptions.
arrow::Status ParseJsonDocument(std::string_view text, nlohmann::json* out);

/// Deepest nesting of arrays and objects a request may have. Each protobuf message level
/// costs at most two JSON levels (the array of a repeated field and the object), so this
/// admits everything protobuf's default recursion limit of 100 messages admits.
inline constexpr int kMaxJsonDepth = 256;

/// Fails if `text` nests arrays and objects deeper than `max_depth`. A cheap scan before
/// parsing: the DOM walk recurses once per level and must not exhaust the stack.
arrow::Status CheckJsonDepth(std::string_view text, int max_depth);

}  // namespace otlp_arrow::model::internal
