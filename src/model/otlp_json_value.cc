// SPDX-License-Identifier: Apache-2.0
// OTLP/JSON for AnyValue and its nested forms. Hand-written rather than protobuf's
// JsonUtil: that one reads "-0" back as +0.0 and goes through reflection; this one is
// exact and fast.

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <arrow/util/base64.h>
#include <arrow/util/utf8.h>

#include "otlp_arrow/model/otlp_json.h"
#include "otlp_json_internal.h"

namespace otlp_arrow::model {

namespace internal {

arrow::Status AppendJsonString(std::string_view s, std::string* out) {
  [[maybe_unused]] static const bool utf8_tables_ready =
      (arrow::util::InitializeUTF8(), true);
  if (!arrow::util::ValidateUTF8(s)) {
    return arrow::Status::Invalid("string is not valid UTF-8");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
  return arrow::Status::OK();
}

void AppendJsonDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else if (v == 0 && std::signbit(v)) {
    out->append("-0.0");  // "-0" would read back as the integer 0
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
    out->append(buf, end);
  }
}

namespace {

void AppendInt64String(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->push_back('"');
  out->append(buf, end);
  out->push_back('"');
}

arrow::Status AppendArrayValue(const otlp::ArrayValue& array, std::string* out) {
  out->append("{\"values\":[");
  for (int i = 0; i < array.values_size(); ++i) {
    if (i > 0) out->push_back(',');
    ARROW_RETURN_NOT_OK(AppendAnyValue(array.values(i), out));
  }
  out->append("]}");
  return arrow::Status::OK();
}

}  // namespace

arrow::Status AppendKeyValues(
    const google::protobuf::RepeatedPtrField<otlp::KeyValue>& kvs, std::string* out) {
  out->push_back('[');
  for (int i = 0; i < kvs.size(); ++i) {
    const auto& kv = kvs[i];
    if (i > 0) out->push_back(',');
    out->append("{\"key\":");
    ARROW_RETURN_NOT_OK(AppendJsonString(kv.key(), out));
    if (kv.has_value()) {
      out->append(",\"value\":");
      ARROW_RETURN_NOT_OK(AppendAnyValue(kv.value(), out));
    }
    if (kv.key_strindex() != 0) {
      out->append(",\"keyStrindex\":");
      out->append(std::to_string(kv.key_strindex()));
    }
    out->push_back('}');
  }
  out->push_back(']');
  return arrow::Status::OK();
}

arrow::Status AppendAnyValue(const otlp::AnyValue& value, std::string* out) {
  using C = otlp::AnyValue::ValueCase;
  switch (value.value_case()) {
    case C::kStringValue:
      out->append("{\"stringValue\":");
      ARROW_RETURN_NOT_OK(AppendJsonString(value.string_value(), out));
      break;
    case C::kBoolValue:
      out->append(value.bool_value() ? "{\"boolValue\":true" : "{\"boolValue\":false");
      break;
    case C::kIntValue:
      out->append("{\"intValue\":");
      AppendInt64String(value.int_value(), out);
      break;
    case C::kDoubleValue:
      out->append("{\"doubleValue\":");
      AppendJsonDouble(value.double_value(), out);
      break;
    case C::kBytesValue:
      out->append("{\"bytesValue\":\"");
      out->append(Base64Encode(value.bytes_value()));
      out->push_back('"');
      break;
    case C::kArrayValue:
      out->append("{\"arrayValue\":");
      ARROW_RETURN_NOT_OK(AppendArrayValue(value.array_value(), out));
      break;
    case C::kKvlistValue:
      out->append("{\"kvlistValue\":{\"values\":");
      ARROW_RETURN_NOT_OK(AppendKeyValues(value.kvlist_value().values(), out));
      out->push_back('}');
      break;
    case C::kStringValueStrindex:
      out->append("{\"stringValueStrindex\":");
      out->append(std::to_string(value.string_value_strindex()));
      break;
    case C::VALUE_NOT_SET:
      out->push_back('{');
      break;
  }
  out->push_back('}');
  return arrow::Status::OK();
}

// --- parsing
// ---------------------------------------------------------------------------------

arrow::Status ParseJsonDocument(std::string_view text, nlohmann::json* out) {
  // ParseAnyValue recurses once per nesting level: refuse what could exhaust the stack.
  ARROW_RETURN_NOT_OK(CheckJsonDepth(text, kMaxJsonDepth));
  *out = nlohmann::json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                               /*allow_exceptions=*/false);
  if (out->is_discarded()) return arrow::Status::Invalid("not valid JSON");
  return arrow::Status::OK();
}

const nlohmann::json* Member(const nlohmann::json& j, const char* camel,
                             const char* snake) {
  auto it = j.find(camel);
  if (it != j.end()) return &*it;
  if (snake != nullptr) {
    it = j.find(snake);
    if (it != j.end()) return &*it;
  }
  return nullptr;
}

namespace {

template <typename T>
bool ParseDecimal(const std::string& s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

template <typename T>
arrow::Status ParseInteger(const nlohmann::json& j, const std::string& path, T* out) {
  auto bad = [&] {
    return arrow::Status::Invalid(path, ": expected an integer in range, got ",
                                  j.dump().substr(0, 64));
  };
  if (j.is_string())
    return ParseDecimal(j.get_ref<const std::string&>(), out) ? arrow::Status::OK()
                                                              : bad();
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return bad();
    *out = static_cast<T>(v);
    return arrow::Status::OK();
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0) return bad();
      if (static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) return bad();
    } else {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
        return bad();
    }
    *out = static_cast<T>(v);
    return arrow::Status::OK();
  }
  if (j.is_number_float()) {
    // 1e3 is an integer too, as long as it is one exactly.
    const double v = j.get<double>();
    if (std::trunc(v) != v || v < static_cast<double>(std::numeric_limits<T>::min()) ||
        v >= std::ldexp(1.0, std::numeric_limits<T>::digits)) {
      return bad();
    }
    *out = static_cast<T>(v);
    return arrow::Status::OK();
  }
  return bad();
}

}  // namespace

arrow::Status ParseInt64(const nlohmann::json& j, const std::string& path, int64_t* out) {
  return ParseInteger(j, path, out);
}
arrow::Status ParseUInt64(const nlohmann::json& j, const std::string& path,
                          uint64_t* out) {
  return ParseInteger(j, path, out);
}
arrow::Status ParseUInt32(const nlohmann::json& j, const std::string& path,
                          uint32_t* out) {
  return ParseInteger(j, path, out);
}

arrow::Status ParseDouble(const nlohmann::json& j, const std::string& path, double* out) {
  if (j.is_number()) {
    *out = j.get<double>();
    return arrow::Status::OK();
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "NaN") {
      *out = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      *out = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      *out = -std::numeric_limits<double>::infinity();
    } else if (!ParseDecimal(s, out)) {
      return arrow::Status::Invalid(path, ": expected a number, got \"", s.substr(0, 64),
                                    "\"");
    }
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid(path, ": expected a number, got ", j.type_name());
}

arrow::Status ParseString(const nlohmann::json& j, const std::string& path,
                          std::string* out) {
  if (!j.is_string()) {
    return arrow::Status::Invalid(path, ": expected a string, got ", j.type_name());
  }
  *out = j.get_ref<const std::string&>();
  return arrow::Status::OK();
}

namespace {

arrow::Status ParseArrayValue(const nlohmann::json& j, const std::string& path,
                              otlp::ArrayValue* out) {
  if (!j.is_object()) return arrow::Status::Invalid(path, ": expected an object");
  const nlohmann::json* values = Member(j, "values", nullptr);
  if (values == nullptr || values->is_null()) return arrow::Status::OK();
  if (!values->is_array())
    return arrow::Status::Invalid(path, ".values: expected an array");
  out->mutable_values()->Reserve(static_cast<int>(values->size()));
  for (size_t i = 0; i < values->size(); ++i) {
    ARROW_RETURN_NOT_OK(ParseAnyValue(
        (*values)[i], path + ".values[" + std::to_string(i) + "]", out->add_values()));
  }
  return arrow::Status::OK();
}

arrow::Status ParseKeyValueList(const nlohmann::json& j, const std::string& path,
                                otlp::KeyValueList* out) {
  if (!j.is_object()) return arrow::Status::Invalid(path, ": expected an object");
  const nlohmann::json* values = Member(j, "values", nullptr);
  if (values == nullptr || values->is_null()) return arrow::Status::OK();
  return ParseKeyValues(*values, path + ".values", out->mutable_values());
}

}  // namespace

arrow::Status ParseKeyValues(const nlohmann::json& j, const std::string& path,
                             google::protobuf::RepeatedPtrField<otlp::KeyValue>* out) {
  if (j.is_null()) return arrow::Status::OK();
  if (!j.is_array()) return arrow::Status::Invalid(path, ": expected an array");
  out->Reserve(out->size() + static_cast<int>(j.size()));
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    const auto& kv_json = j[i];
    if (!kv_json.is_object()) return arrow::Status::Invalid(item, ": expected an object");
    otlp::KeyValue* kv = out->Add();
    if (const auto* key = Member(kv_json, "key", nullptr)) {
      ARROW_RETURN_NOT_OK(ParseString(*key, item + ".key", kv->mutable_key()));
    }
    if (const auto* value = Member(kv_json, "value", nullptr);
        value && !value->is_null()) {
      ARROW_RETURN_NOT_OK(ParseAnyValue(*value, item + ".value", kv->mutable_value()));
    }
    if (const auto* strindex = Member(kv_json, "keyStrindex", "key_strindex")) {
      int32_t v = 0;
      ARROW_RETURN_NOT_OK(ParseInteger(*strindex, item + ".keyStrindex", &v));
      kv->set_key_strindex(v);
    }
  }
  return arrow::Status::OK();
}

arrow::Status ParseAnyValue(const nlohmann::json& j, const std::string& path,
                            otlp::AnyValue* out) {
  if (!j.is_object()) return arrow::Status::Invalid(path, ": expected an object");
  int kinds = 0;
  for (const auto& [key, member] : j.items()) {
    if (member.is_null()) continue;
    if (key == "stringValue" || key == "string_value") {
      ARROW_RETURN_NOT_OK(
          ParseString(member, path + ".stringValue", out->mutable_string_value()));
    } else if (key == "boolValue" || key == "bool_value") {
      if (!member.is_boolean())
        return arrow::Status::Invalid(path, ".boolValue: expected a boolean");
      out->set_bool_value(member.get<bool>());
    } else if (key == "intValue" || key == "int_value") {
      int64_t v = 0;
      ARROW_RETURN_NOT_OK(ParseInt64(member, path + ".intValue", &v));
      out->set_int_value(v);
    } else if (key == "doubleValue" || key == "double_value") {
      double v = 0;
      ARROW_RETURN_NOT_OK(ParseDouble(member, path + ".doubleValue", &v));
      out->set_double_value(v);
    } else if (key == "bytesValue" || key == "bytes_value") {
      std::string text;
      ARROW_RETURN_NOT_OK(ParseString(member, path + ".bytesValue", &text));
      std::string bytes;
      auto st = Base64Decode(text, &bytes);
      if (!st.ok()) return arrow::Status::Invalid(path, ".bytesValue: ", st.message());
      out->set_bytes_value(std::move(bytes));
    } else if (key == "arrayValue" || key == "array_value") {
      ARROW_RETURN_NOT_OK(
          ParseArrayValue(member, path + ".arrayValue", out->mutable_array_value()));
    } else if (key == "kvlistValue" || key == "kvlist_value") {
      ARROW_RETURN_NOT_OK(
          ParseKeyValueList(member, path + ".kvlistValue", out->mutable_kvlist_value()));
    } else if (key == "stringValueStrindex" || key == "string_value_strindex") {
      int32_t v = 0;
      ARROW_RETURN_NOT_OK(ParseInteger(member, path + ".stringValueStrindex", &v));
      out->set_string_value_strindex(v);
    } else {
      continue;  // unknown keys are ignored, as the OTLP specification asks of receivers
    }
    if (++kinds > 1) {
      return arrow::Status::Invalid(path, ": more than one value in an AnyValue");
    }
  }
  return arrow::Status::OK();
}

}  // namespace internal

// --- public API
// ------------------------------------------------------------------------------

arrow::Status AnyValueToJson(const otlp::AnyValue& value, std::string* out) {
  return internal::AppendAnyValue(value, out);
}

arrow::Status ArrayValueToJson(const otlp::ArrayValue& value, std::string* out) {
  return internal::AppendArrayValue(value, out);
}

arrow::Status KeyValueListToJson(const otlp::KeyValueList& value, std::string* out) {
  out->append("{\"values\":");
  ARROW_RETURN_NOT_OK(internal::AppendKeyValues(value.values(), out));
  out->push_back('}');
  return arrow::Status::OK();
}

arrow::Status AnyValueFromJson(std::string_view json, otlp::AnyValue* out) {
  nlohmann::json doc;
  ARROW_RETURN_NOT_OK(internal::ParseJsonDocument(json, &doc));
  return internal::ParseAnyValue(doc, "$", out);
}

arrow::Status ArrayValueFromJson(std::string_view json, otlp::ArrayValue* out) {
  nlohmann::json doc;
  ARROW_RETURN_NOT_OK(internal::ParseJsonDocument(json, &doc));
  return internal::ParseArrayValue(doc, "$", out);
}

arrow::Status KeyValueListFromJson(std::string_view json, otlp::KeyValueList* out) {
  nlohmann::json doc;
  ARROW_RETURN_NOT_OK(internal::ParseJsonDocument(json, &doc));
  return internal::ParseKeyValueList(doc, "$", out);
}

// --- base64
// ----------------------------------------------------------------------------------

std::string Base64Encode(std::string_view bytes) {
  return arrow::util::base64_encode(bytes);
}

// Not arrow::util::base64_decode: it skips what is not base64 without saying so.
arrow::Status Base64Decode(std::string_view text, std::string* out) {
  static const auto kTable = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    t['-'] = 62;  // URL-safe alphabet
    t['_'] = 63;
    return t;
  }();
  // Padding is optional, but when present it must complete the last 4-character group.
  size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 0 && (text.size() + padding) % 4 != 0) {
    return arrow::Status::Invalid("not base64: bad padding");
  }
  if (text.size() % 4 == 1) return arrow::Status::Invalid("not base64: bad length");
  out->clear();
  out->reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int8_t v = kTable[static_cast<uint8_t>(text[i])];
    if (v < 0) return arrow::Status::Invalid("not base64: character at ", i);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Canonical encodings leave the unused low bits of the last character zero (RFC 4648
  // §3.5).
  if ((acc & ((1u << bits) - 1)) != 0) {
    return arrow::Status::Invalid("not base64: non-zero trailing bits");
  }
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::model
