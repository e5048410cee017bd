// SPDX-License-Identifier: Apache-2.0
// OTLP/JSON for whole trace requests: the messages around AnyValue (resource, scope,
// span, event, link, status), with the OTLP refinements of the protobuf JSON mapping: hex
// ids, integer enums, 64-bit integers as decimal strings.

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include <arrow/util/macros.h>

#include "otlp_arrow/common/hex.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_json_internal.h"

namespace otlp_arrow::model {

namespace internal {

arrow::Status CheckJsonDepth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          return arrow::Status::Invalid("JSON nested deeper than ", max_depth, " levels");
        }
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to report; only the depth matters here.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return arrow::Status::OK();
}

}  // namespace internal

namespace {

using internal::AppendJsonString;
using internal::Member;
using nlohmann::json;
using KeyValues = google::protobuf::RepeatedPtrField<otlp::KeyValue>;
// otlp.h has no alias for it, and only this codec needs one.
using EntityRef = ::opentelemetry::proto::common::v1::EntityRef;

// --- writing ---------------------------------------------------------------------------

// Writes one JSON object member by member; members equal to their default are skipped by
// the callers, so the comma goes before every member but the first one written.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }

  std::string* Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(key);
    out_->append("\":");
    return out_;
  }

  arrow::Status String(std::string_view key, std::string_view value) {
    if (value.empty()) return arrow::Status::OK();
    return AppendJsonString(value, Key(key));
  }

  // uint32, fixed32 and enums are JSON numbers.
  void Number(std::string_view key, int64_t value) {
    if (value == 0) return;
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    Key(key)->append(buf, end);
  }

  // 64-bit integers are strings: JSON numbers lose precision above 2^53 in most readers.
  void UInt64String(std::string_view key, uint64_t value) {
    if (value == 0) return;
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    std::string* out = Key(key);
    out->push_back('"');
    out->append(buf, end);
    out->push_back('"');
  }

  // Trace and span ids are lowercase hex, not base64 as protobuf's mapping would have it.
  // Whatever length the id has is written: the writer is lossless, the reader checks.
  void Id(std::string_view key, std::string_view id) {
    if (id.empty()) return;
    std::string* out = Key(key);
    out->push_back('"');
    out->append(common::LowerHex(id));
    out->push_back('"');
  }

  arrow::Status Attributes(std::string_view key, const KeyValues& kvs) {
    if (kvs.empty()) return arrow::Status::OK();
    return internal::AppendKeyValues(kvs, Key(key));
  }

  arrow::Status Strings(std::string_view key,
                        const google::protobuf::RepeatedPtrField<std::string>& values) {
    if (values.empty()) return arrow::Status::OK();
    std::string* out = Key(key);
    out->push_back('[');
    for (int i = 0; i < values.size(); ++i) {
      if (i > 0) out->push_back(',');
      ARROW_RETURN_NOT_OK(AppendJsonString(values[i], out));
    }
    out->push_back(']');
    return arrow::Status::OK();
  }

  // A repeated message field: `append(element, out)` writes one element.
  template <typename T, typename Append>
  arrow::Status Messages(std::string_view key,
                         const google::protobuf::RepeatedPtrField<T>& values,
                         Append&& append) {
    if (values.empty()) return arrow::Status::OK();
    std::string* out = Key(key);
    out->push_back('[');
    for (int i = 0; i < values.size(); ++i) {
      if (i > 0) out->push_back(',');
      ARROW_RETURN_NOT_OK(append(values[i], out));
    }
    out->push_back(']');
    return arrow::Status::OK();
  }

  void Close() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

arrow::Status AppendEntityRef(const EntityRef& ref, std::string* out) {
  ObjectWriter w(out);
  ARROW_RETURN_NOT_OK(w.String("schemaUrl", ref.schema_url()));
  ARROW_RETURN_NOT_OK(w.String("type", ref.type()));
  ARROW_RETURN_NOT_OK(w.Strings("idKeys", ref.id_keys()));
  ARROW_RETURN_NOT_OK(w.Strings("descriptionKeys", ref.description_keys()));
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendResource(const otlp::Resource& resource, std::string* out) {
  ObjectWriter w(out);
  ARROW_RETURN_NOT_OK(w.Attributes("attributes", resource.attributes()));
  w.Number("droppedAttributesCount", resource.dropped_attributes_count());
  ARROW_RETURN_NOT_OK(w.Messages("entityRefs", resource.entity_refs(), AppendEntityRef));
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendScope(const otlp::InstrumentationScope& scope, std::string* out) {
  ObjectWriter w(out);
  ARROW_RETURN_NOT_OK(w.String("name", scope.name()));
  ARROW_RETURN_NOT_OK(w.String("version", scope.version()));
  ARROW_RETURN_NOT_OK(w.Attributes("attributes", scope.attributes()));
  w.Number("droppedAttributesCount", scope.dropped_attributes_count());
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendEvent(const otlp::Span::Event& event, std::string* out) {
  ObjectWriter w(out);
  w.UInt64String("timeUnixNano", event.time_unix_nano());
  ARROW_RETURN_NOT_OK(w.String("name", event.name()));
  ARROW_RETURN_NOT_OK(w.Attributes("attributes", event.attributes()));
  w.Number("droppedAttributesCount", event.dropped_attributes_count());
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendLink(const otlp::Span::Link& link, std::string* out) {
  ObjectWriter w(out);
  w.Id("traceId", link.trace_id());
  w.Id("spanId", link.span_id());
  ARROW_RETURN_NOT_OK(w.String("traceState", link.trace_state()));
  ARROW_RETURN_NOT_OK(w.Attributes("attributes", link.attributes()));
  w.Number("droppedAttributesCount", link.dropped_attributes_count());
  w.Number("flags", link.flags());
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendStatus(const otlp::Status& status, std::string* out) {
  ObjectWriter w(out);
  ARROW_RETURN_NOT_OK(w.String("message", status.message()));
  w.Number("code", status.code());
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendSpan(const otlp::Span& span, std::string* out) {
  ObjectWriter w(out);
  w.Id("traceId", span.trace_id());
  w.Id("spanId", span.span_id());
  ARROW_RETURN_NOT_OK(w.String("traceState", span.trace_state()));
  w.Id("parentSpanId", span.parent_span_id());
  w.Number("flags", span.flags());
  ARROW_RETURN_NOT_OK(w.String("name", span.name()));
  w.Number("kind", span.kind());
  w.UInt64String("startTimeUnixNano", span.start_time_unix_nano());
  w.UInt64String("endTimeUnixNano", span.end_time_unix_nano());
  ARROW_RETURN_NOT_OK(w.Attributes("attributes", span.attributes()));
  w.Number("droppedAttributesCount", span.dropped_attributes_count());
  ARROW_RETURN_NOT_OK(w.Messages("events", span.events(), AppendEvent));
  w.Number("droppedEventsCount", span.dropped_events_count());
  ARROW_RETURN_NOT_OK(w.Messages("links", span.links(), AppendLink));
  w.Number("droppedLinksCount", span.dropped_links_count());
  // Sub-messages are written whenever present, even empty, so that presence round-trips.
  if (span.has_status())
    ARROW_RETURN_NOT_OK(AppendStatus(span.status(), w.Key("status")));
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendScopeSpans(const otlp::ScopeSpans& scope_spans, std::string* out) {
  ObjectWriter w(out);
  if (scope_spans.has_scope()) {
    ARROW_RETURN_NOT_OK(AppendScope(scope_spans.scope(), w.Key("scope")));
  }
  ARROW_RETURN_NOT_OK(w.Messages("spans", scope_spans.spans(), AppendSpan));
  ARROW_RETURN_NOT_OK(w.String("schemaUrl", scope_spans.schema_url()));
  w.Close();
  return arrow::Status::OK();
}

arrow::Status AppendResourceSpans(const otlp::ResourceSpans& resource_spans,
                                  std::string* out) {
  ObjectWriter w(out);
  if (resource_spans.has_resource()) {
    ARROW_RETURN_NOT_OK(AppendResource(resource_spans.resource(), w.Key("resource")));
  }
  ARROW_RETURN_NOT_OK(
      w.Messages("scopeSpans", resource_spans.scope_spans(), AppendScopeSpans));
  ARROW_RETURN_NOT_OK(w.String("schemaUrl", resource_spans.schema_url()));
  w.Close();
  return arrow::Status::OK();
}

// --- parsing ---------------------------------------------------------------------------

// The member `camel` (or `snake`) of `j`, or null when it is missing or JSON null: OTLP
// treats a null field as an absent one.
const json* Field(const json& j, const char* camel, const char* snake) {
  const json* member = Member(j, camel, snake);
  return member == nullptr || member->is_null() ? nullptr : member;
}

// Runs a scalar parser with an empty path first and again with the real one only if it
// fails: a path string per field would cost an allocation per field of every span, and
// only an error message needs it. Scalar parsers leave their output alone on failure.
template <typename T, typename Parse>
arrow::Status ParseScalar(Parse parse, const json& j, const std::string& parent,
                          const char* name, T* out) {
  static const std::string kNoPath;
  arrow::Status st = parse(j, kNoPath, out);
  if (ARROW_PREDICT_TRUE(st.ok())) return st;
  return parse(j, parent + "." + name, out);
}

template <typename Setter>
arrow::Status ParseStringField(const json& obj, const std::string& path,
                               const char* camel, const char* snake, Setter&& set) {
  const json* j = Field(obj, camel, snake);
  if (j == nullptr) return arrow::Status::OK();
  if (!j->is_string()) {
    return arrow::Status::Invalid(path, ".", camel, ": expected a string, got ",
                                  j->type_name());
  }
  set(j->get_ref<const std::string&>());
  return arrow::Status::OK();
}

// An optional unsigned field, read with `parse` (ParseUInt32 or ParseUInt64) into a T.
template <typename T, typename Setter>
arrow::Status ParseUnsignedField(arrow::Status (*parse)(const json&, const std::string&,
                                                        T*),
                                 const json& obj, const std::string& path,
                                 const char* camel, const char* snake, Setter&& set) {
  const json* j = Field(obj, camel, snake);
  if (j == nullptr) return arrow::Status::OK();
  T v = 0;
  ARROW_RETURN_NOT_OK(ParseScalar(parse, *j, path, camel, &v));
  set(v);
  return arrow::Status::OK();
}

template <typename Setter>
arrow::Status ParseUInt32Field(const json& obj, const std::string& path,
                               const char* camel, const char* snake, Setter&& set) {
  return ParseUnsignedField<uint32_t>(internal::ParseUInt32, obj, path, camel, snake,
                                      set);
}

template <typename Setter>
arrow::Status ParseUInt64Field(const json& obj, const std::string& path,
                               const char* camel, const char* snake, Setter&& set) {
  return ParseUnsignedField<uint64_t>(internal::ParseUInt64, obj, path, camel, snake,
                                      set);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A trace id (16 bytes) or span id (8 bytes) as hex, either case; "" is the empty id.
arrow::Status ParseIdField(const json& obj, const std::string& path, const char* camel,
                           const char* snake, int size, std::string* out) {
  const json* j = Field(obj, camel, snake);
  if (j == nullptr) return arrow::Status::OK();
  if (!j->is_string()) {
    return arrow::Status::Invalid(path, ".", camel, ": expected a hex string, got ",
                                  j->type_name());
  }
  const auto& hex = j->get_ref<const std::string&>();
  if (hex.empty()) {
    out->clear();
    return arrow::Status::OK();
  }
  if (hex.size() != static_cast<size_t>(2 * size)) {
    return arrow::Status::Invalid(path, ".", camel, ": expected ", 2 * size,
                                  " hex digits, got ", hex.size(), " characters");
  }
  out->resize(static_cast<size_t>(size));
  for (int i = 0; i < size; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return arrow::Status::Invalid(path, ".", camel, ": not hex at character ",
                                    hi < 0 ? 2 * i : 2 * i + 1);
    }
    (*out)[i] = static_cast<char>((hi << 4) | lo);
  }
  return arrow::Status::OK();
}

// An enum as its integer value or its name. Integers outside the known values are kept,
// as proto3 enums are open; unknown names are errors since they have no integer to keep.
template <typename Enum, typename ParseName>
arrow::Status ParseEnumField(const json& obj, const std::string& path, const char* camel,
                             ParseName&& parse_name, Enum* out) {
  const json* j = Field(obj, camel, nullptr);
  if (j == nullptr) return arrow::Status::OK();
  if (j->is_string()) {
    const auto& name = j->get_ref<const std::string&>();
    if (!parse_name(name, out)) {
      return arrow::Status::Invalid(path, ".", camel, ": unknown enum value name \"",
                                    name.substr(0, 64), "\"");
    }
    return arrow::Status::OK();
  }
  if (!j->is_number()) {
    return arrow::Status::Invalid(path, ".", camel,
                                  ": expected an integer or an enum value name, got ",
                                  j->type_name());
  }
  int64_t v = 0;
  ARROW_RETURN_NOT_OK(ParseScalar(internal::ParseInt64, *j, path, camel, &v));
  if (v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max()) {
    return arrow::Status::Invalid(path, ".", camel, ": enum value out of range: ", v);
  }
  *out = static_cast<Enum>(v);
  return arrow::Status::OK();
}

arrow::Status ParseAttributes(const json& obj, const std::string& path, KeyValues* out) {
  const json* j = Field(obj, "attributes", nullptr);
  if (j == nullptr) return arrow::Status::OK();
  return internal::ParseKeyValues(*j, path + ".attributes", out);
}

// A repeated message field: `parse(element_json, element_path, element)` fills one
// element.
template <typename T, typename Parse>
arrow::Status ParseMessages(const json& obj, const std::string& path, const char* camel,
                            const char* snake, google::protobuf::RepeatedPtrField<T>* out,
                            Parse&& parse) {
  const json* j = Field(obj, camel, snake);
  if (j == nullptr) return arrow::Status::OK();
  const std::string list_path = path + "." + camel;
  if (!j->is_array()) {
    return arrow::Status::Invalid(list_path, ": expected an array, got ", j->type_name());
  }
  out->Reserve(out->size() + static_cast<int>(j->size()));
  for (size_t i = 0; i < j->size(); ++i) {
    const std::string item_path = list_path + "[" + std::to_string(i) + "]";
    const json& item = (*j)[i];
    if (!item.is_object()) {
      return arrow::Status::Invalid(item_path, ": expected an object, got ",
                                    item.type_name());
    }
    ARROW_RETURN_NOT_OK(parse(item, item_path, out->Add()));
  }
  return arrow::Status::OK();
}

// A singular message field, created (present) whenever the key is there and not null.
template <typename Mutable, typename Parse>
arrow::Status ParseMessage(const json& obj, const std::string& path, const char* name,
                           Mutable&& mutable_message, Parse&& parse) {
  const json* j = Field(obj, name, nullptr);
  if (j == nullptr) return arrow::Status::OK();
  const std::string field_path = path + "." + name;
  if (!j->is_object()) {
    return arrow::Status::Invalid(field_path, ": expected an object, got ",
                                  j->type_name());
  }
  return parse(*j, field_path, mutable_message());
}

arrow::Status ParseStrings(const json& obj, const std::string& path, const char* camel,
                           const char* snake,
                           google::protobuf::RepeatedPtrField<std::string>* out) {
  const json* j = Field(obj, camel, snake);
  if (j == nullptr) return arrow::Status::OK();
  if (!j->is_array()) {
    return arrow::Status::Invalid(path, ".", camel, ": expected an array, got ",
                                  j->type_name());
  }
  out->Reserve(out->size() + static_cast<int>(j->size()));
  for (size_t i = 0; i < j->size(); ++i) {
    const json& item = (*j)[i];
    if (!item.is_string()) {
      return arrow::Status::Invalid(path, ".", camel, "[", i,
                                    "]: expected a string, got ", item.type_name());
    }
    out->Add(std::string(item.get_ref<const std::string&>()));
  }
  return arrow::Status::OK();
}

arrow::Status ParseEntityRef(const json& j, const std::string& path, EntityRef* out) {
  ARROW_RETURN_NOT_OK(
      ParseStringField(j, path, "schemaUrl", "schema_url",
                       [&](const std::string& s) { out->set_schema_url(s); }));
  ARROW_RETURN_NOT_OK(ParseStringField(j, path, "type", nullptr,
                                       [&](const std::string& s) { out->set_type(s); }));
  ARROW_RETURN_NOT_OK(ParseStrings(j, path, "idKeys", "id_keys", out->mutable_id_keys()));
  return ParseStrings(j, path, "descriptionKeys", "description_keys",
                      out->mutable_description_keys());
}

arrow::Status ParseResource(const json& j, const std::string& path, otlp::Resource* out) {
  ARROW_RETURN_NOT_OK(ParseAttributes(j, path, out->mutable_attributes()));
  ARROW_RETURN_NOT_OK(
      ParseUInt32Field(j, path, "droppedAttributesCount", "dropped_attributes_count",
                       [&](uint32_t v) { out->set_dropped_attributes_count(v); }));
  return ParseMessages(j, path, "entityRefs", "entity_refs", out->mutable_entity_refs(),
                       ParseEntityRef);
}

arrow::Status ParseScope(const json& j, const std::string& path,
                         otlp::InstrumentationScope* out) {
  ARROW_RETURN_NOT_OK(ParseStringField(j, path, "name", nullptr,
                                       [&](const std::string& s) { out->set_name(s); }));
  ARROW_RETURN_NOT_OK(ParseStringField(
      j, path, "version", nullptr, [&](const std::string& s) { out->set_version(s); }));
  ARROW_RETURN_NOT_OK(ParseAttributes(j, path, out->mutable_attributes()));
  return ParseUInt32Field(j, path, "droppedAttributesCount", "dropped_attributes_count",
                          [&](uint32_t v) { out->set_dropped_attributes_count(v); });
}

arrow::Status ParseEvent(const json& j, const std::string& path, otlp::Span::Event* out) {
  ARROW_RETURN_NOT_OK(ParseUInt64Field(j, path, "timeUnixNano", "time_unix_nano",
                                       [&](uint64_t v) { out->set_time_unix_nano(v); }));
  ARROW_RETURN_NOT_OK(ParseStringField(j, path, "name", nullptr,
                                       [&](const std::string& s) { out->set_name(s); }));
  ARROW_RETURN_NOT_OK(ParseAttributes(j, path, out->mutable_attributes()));
  return ParseUInt32Field(j, path, "droppedAttributesCount", "dropped_attributes_count",
                          [&](uint32_t v) { out->set_dropped_attributes_count(v); });
}

arrow::Status ParseLink(const json& j, const std::string& path, otlp::Span::Link* out) {
  ARROW_RETURN_NOT_OK(ParseIdField(j, path, "traceId", "trace_id", otlp::kTraceIdSize,
                                   out->mutable_trace_id()));
  ARROW_RETURN_NOT_OK(ParseIdField(j, path, "spanId", "span_id", otlp::kSpanIdSize,
                                   out->mutable_span_id()));
  ARROW_RETURN_NOT_OK(
      ParseStringField(j, path, "traceState", "trace_state",
                       [&](const std::string& s) { out->set_trace_state(s); }));
  ARROW_RETURN_NOT_OK(ParseAttributes(j, path, out->mutable_attributes()));
  ARROW_RETURN_NOT_OK(
      ParseUInt32Field(j, path, "droppedAttributesCount", "dropped_attributes_count",
                       [&](uint32_t v) { out->set_dropped_attributes_count(v); }));
  return ParseUInt32Field(j, path, "flags", nullptr,
                          [&](uint32_t v) { out->set_flags(v); });
}

arrow::Status ParseStatus(const json& j, const std::string& path, otlp::Status* out) {
  ARROW_RETURN_NOT_OK(ParseStringField(
      j, path, "message", nullptr, [&](const std::string& s) { out->set_message(s); }));
  auto code = otlp::Status::STATUS_CODE_UNSET;
  ARROW_RETURN_NOT_OK(
      ParseEnumField(j, path, "code", otlp::Status::StatusCode_Parse, &code));
  out->set_code(code);
  return arrow::Status::OK();
}

arrow::Status ParseSpan(const json& j, const std::string& path, otlp::Span* out) {
  ARROW_RETURN_NOT_OK(ParseIdField(j, path, "traceId", "trace_id", otlp::kTraceIdSize,
                                   out->mutable_trace_id()));
  ARROW_RETURN_NOT_OK(ParseIdField(j, path, "spanId", "span_id", otlp::kSpanIdSize,
                                   out->mutable_span_id()));
  ARROW_RETURN_NOT_OK(
      ParseStringField(j, path, "traceState", "trace_state",
                       [&](const std::string& s) { out->set_trace_state(s); }));
  ARROW_RETURN_NOT_OK(ParseIdField(j, path, "parentSpanId", "parent_span_id",
                                   otlp::kSpanIdSize, out->mutable_parent_span_id()));
  ARROW_RETURN_NOT_OK(ParseUInt32Field(j, path, "flags", nullptr,
                                       [&](uint32_t v) { out->set_flags(v); }));
  ARROW_RETURN_NOT_OK(ParseStringField(j, path, "name", nullptr,
                                       [&](const std::string& s) { out->set_name(s); }));
  auto kind = otlp::Span::SPAN_KIND_UNSPECIFIED;
  ARROW_RETURN_NOT_OK(ParseEnumField(j, path, "kind", otlp::Span::SpanKind_Parse, &kind));
  out->set_kind(kind);
  ARROW_RETURN_NOT_OK(
      ParseUInt64Field(j, path, "startTimeUnixNano", "start_time_unix_nano",
                       [&](uint64_t v) { out->set_start_time_unix_nano(v); }));
  ARROW_RETURN_NOT_OK(
      ParseUInt64Field(j, path, "endTimeUnixNano", "end_time_unix_nano",
                       [&](uint64_t v) { out->set_end_time_unix_nano(v); }));
  ARROW_RETURN_NOT_OK(ParseAttributes(j, path, out->mutable_attributes()));
  ARROW_RETURN_NOT_OK(
      ParseUInt32Field(j, path, "droppedAttributesCount", "dropped_attributes_count",
                       [&](uint32_t v) { out->set_dropped_attributes_count(v); }));
  ARROW_RETURN_NOT_OK(
      ParseMessages(j, path, "events", nullptr, out->mutable_events(), ParseEvent));
  ARROW_RETURN_NOT_OK(
      ParseUInt32Field(j, path, "droppedEventsCount", "dropped_events_count",
                       [&](uint32_t v) { out->set_dropped_events_count(v); }));
  ARROW_RETURN_NOT_OK(
      ParseMessages(j, path, "links", nullptr, out->mutable_links(), ParseLink));
  ARROW_RETURN_NOT_OK(
      ParseUInt32Field(j, path, "droppedLinksCount", "dropped_links_count",
                       [&](uint32_t v) { out->set_dropped_links_count(v); }));
  return ParseMessage(
      j, path, "status", [&] { return out->mutable_status(); }, ParseStatus);
}

arrow::Status ParseScopeSpans(const json& j, const std::string& path,
                              otlp::ScopeSpans* out) {
  ARROW_RETURN_NOT_OK(ParseMessage(
      j, path, "scope", [&] { return out->mutable_scope(); }, ParseScope));
  ARROW_RETURN_NOT_OK(
      ParseMessages(j, path, "spans", nullptr, out->mutable_spans(), ParseSpan));
  return ParseStringField(j, path, "schemaUrl", "schema_url",
                          [&](const std::string& s) { out->set_schema_url(s); });
}

arrow::Status ParseResourceSpans(const json& j, const std::string& path,
                                 otlp::ResourceSpans* out) {
  ARROW_RETURN_NOT_OK(ParseMessage(
      j, path, "resource", [&] { return out->mutable_resource(); }, ParseResource));
  ARROW_RETURN_NOT_OK(ParseMessages(j, path, "scopeSpans", "scope_spans",
                                    out->mutable_scope_spans(), ParseScopeSpans));
  return ParseStringField(j, path, "schemaUrl", "schema_url",
                          [&](const std::string& s) { out->set_schema_url(s); });
}

}  // namespace

// --- public API ------------------------------------------------------------------------

arrow::Status TraceRequestToJson(const otlp::ExportTraceServiceRequest& request,
                                 std::string* out) {
  const size_t original_size = out->size();
  ObjectWriter w(out);
  arrow::Status st =
      w.Messages("resourceSpans", request.resource_spans(), AppendResourceSpans);
  if (!st.ok()) {
    out->resize(original_size);  // leave no half-written document behind
    return st;
  }
  w.Close();
  return arrow::Status::OK();
}

arrow::Status TraceRequestFromJson(std::string_view json_text,
                                   otlp::ExportTraceServiceRequest* out) {
  // The DOM is walked recursively, one C++ frame (and a longer path string) per level:
  // refuse absurd nesting before it can exhaust the stack.
  ARROW_RETURN_NOT_OK(internal::CheckJsonDepth(json_text, internal::kMaxJsonDepth));
  json doc;
  ARROW_RETURN_NOT_OK(internal::ParseJsonDocument(json_text, &doc));
  if (!doc.is_object()) {
    return arrow::Status::Invalid("$: expected an object, got ", doc.type_name());
  }
  out->Clear();
  return ParseMessages(doc, "$", "resourceSpans", "resource_spans",
                       out->mutable_resource_spans(), ParseResourceSpans);
}

}  // namespace otlp_arrow::model
