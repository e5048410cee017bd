// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/convert/span_table_encoder.h"

#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_schema.h"
#include "proto_reader_internal.h"
#include "span_table_encoder_internal.h"

namespace otlp_arrow::convert {

namespace {

using internal::AttributesWriter;
using internal::FixedWriter;
using internal::GroupDictionaryWriter;
using internal::OffsetsWriter;
using internal::SpanIdWriter;
using internal::StringWriter;
using internal::TraceIdWriter;

constexpr int kMaxSpanKind = 5;
constexpr int kMaxStatusCode = 2;

std::string_view ServiceName(const otlp::Resource& resource) {
  for (const auto& kv : resource.attributes()) {
    if (kv.key() == "service.name" &&
        kv.value().value_case() == otlp::AnyValue::kStringValue) {
      return kv.value().string_value();
    }
  }
  return {};
}

std::string SpanPath(int r, int k, int j) {
  return "resource_spans[" + std::to_string(r) + "].scope_spans[" + std::to_string(k) +
         "].spans[" + std::to_string(j) + "]";
}

arrow::Status IdWidthError(const std::string& path, const char* field, size_t width,
                           size_t got) {
  return arrow::Status::Invalid(path, ".", field, ": expected ", width, " bytes, got ",
                                got);
}

void AppendOptional(StringWriter* writer, std::string_view value) {
  if (value.empty()) {
    writer->AppendNull();
  } else {
    writer->Append(value);
  }
}

}  // namespace

arrow::Status SpanTableEncoder::Impl::AppendScopeSpans(const otlp::ResourceSpans& rs,
                                                       const otlp::ScopeSpans& ss, int r,
                                                       int k) {
  const int64_t n = ss.spans_size();
  if (n == 0) return arrow::Status::OK();
  for (int j = 0; j < n; ++j) {
    ARROW_RETURN_NOT_OK(AppendSpan(ss.spans(j), r, k, j));
  }

  // Columns that repeat the resource and the scope: encoded once for the group.
  const otlp::Resource& resource = rs.resource();
  const otlp::InstrumentationScope& scope = ss.scope();
  service_name.AppendRepeated(ServiceName(resource), n);
  ARROW_RETURN_NOT_OK(resource_attributes.AppendRepeated(resource.attributes(), n, [&] {
    return "resource_spans[" + std::to_string(r) + "].resource";
  }));
  resource_dropped_attributes_count.AppendRepeated(resource.dropped_attributes_count(),
                                                   n);
  resource_schema_url.AppendRepeated(rs.schema_url(), n);
  scope_name.AppendRepeated(scope.name(), n);
  scope_version.AppendRepeated(scope.version(), n);
  ARROW_RETURN_NOT_OK(scope_attributes.AppendRepeated(scope.attributes(), n, [&] {
    return "resource_spans[" + std::to_string(r) + "].scope_spans[" + std::to_string(k) +
           "].scope";
  }));
  scope_dropped_attributes_count.AppendRepeated(scope.dropped_attributes_count(), n);
  scope_schema_url.AppendRepeated(ss.schema_url(), n);
  rows += n;
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendSpan(const otlp::Span& span, int r, int k,
                                                 int j) {
  const std::string& tid = span.trace_id();
  const std::string& sid = span.span_id();
  const std::string& pid = span.parent_span_id();
  const int span_kind = static_cast<int>(span.kind());
  const int code = static_cast<int>(span.status().code());
  if (ARROW_PREDICT_FALSE(tid.size() != otlp::kTraceIdSize)) {
    return IdWidthError(SpanPath(r, k, j), "trace_id", otlp::kTraceIdSize, tid.size());
  }
  if (ARROW_PREDICT_FALSE(sid.size() != otlp::kSpanIdSize)) {
    return IdWidthError(SpanPath(r, k, j), "span_id", otlp::kSpanIdSize, sid.size());
  }
  if (ARROW_PREDICT_FALSE(!pid.empty() && pid.size() != otlp::kSpanIdSize)) {
    return IdWidthError(SpanPath(r, k, j), "parent_span_id", otlp::kSpanIdSize,
                        pid.size());
  }
  if (ARROW_PREDICT_FALSE(span_kind < 0 || span_kind > kMaxSpanKind)) {
    return arrow::Status::Invalid(SpanPath(r, k, j), ".kind: ", span_kind,
                                  " is not a SpanKind (0..", kMaxSpanKind, ")");
  }
  if (ARROW_PREDICT_FALSE(code < 0 || code > kMaxStatusCode)) {
    return arrow::Status::Invalid(SpanPath(r, k, j), ".status.code: ", code,
                                  " is not a StatusCode (0..", kMaxStatusCode, ")");
  }

  trace_id.Append(tid.data());
  span_id.Append(sid.data());
  if (pid.empty()) {
    parent_span_id.AppendNull();
  } else {
    parent_span_id.Append(pid.data());
  }
  AppendOptional(&trace_state, span.trace_state());
  flags.Append(span.flags());
  name.Append(span.name());
  kind.Append(span_kind);
  const uint64_t start = span.start_time_unix_nano();
  const uint64_t end = span.end_time_unix_nano();
  start_time_unix_nano.Append(start);
  end_time_unix_nano.Append(end);
  status_code.Append(code);
  AppendOptional(&status_message, span.status().message());
  ARROW_RETURN_NOT_OK(
      attributes.Append(span.attributes(), [&] { return SpanPath(r, k, j); }));
  dropped_attributes_count.Append(span.dropped_attributes_count());
  ARROW_RETURN_NOT_OK(AppendEvents(span, r, k, j));
  dropped_events_count.Append(span.dropped_events_count());
  ARROW_RETURN_NOT_OK(AppendLinks(span, r, k, j));
  dropped_links_count.Append(span.dropped_links_count());
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendEvents(const otlp::Span& span, int r, int k,
                                                   int j) {
  for (int e = 0; e < span.events_size(); ++e) {
    const auto& event = span.events(e);
    event_time.Append(event.time_unix_nano());
    event_name.Append(event.name());
    ARROW_RETURN_NOT_OK(event_attributes.Append(event.attributes(), [&] {
      return SpanPath(r, k, j) + ".events[" + std::to_string(e) + "]";
    }));
    event_dropped.Append(event.dropped_attributes_count());
  }
  num_events += span.events_size();
  events.Append(num_events);
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendLinks(const otlp::Span& span, int r, int k,
                                                  int j) {
  for (int l = 0; l < span.links_size(); ++l) {
    const auto& link = span.links(l);
    auto path = [&] { return SpanPath(r, k, j) + ".links[" + std::to_string(l) + "]"; };
    if (link.trace_id().size() != otlp::kTraceIdSize) {
      return IdWidthError(path(), "trace_id", otlp::kTraceIdSize, link.trace_id().size());
    }
    if (link.span_id().size() != otlp::kSpanIdSize) {
      return IdWidthError(path(), "span_id", otlp::kSpanIdSize, link.span_id().size());
    }
    link_trace_id.Append(link.trace_id().data());
    link_span_id.Append(link.span_id().data());
    AppendOptional(&link_trace_state, link.trace_state());
    ARROW_RETURN_NOT_OK(link_attributes.Append(link.attributes(), path));
    link_dropped.Append(link.dropped_attributes_count());
    link_flags.Append(link.flags());
  }
  num_links += span.links_size();
  links.Append(num_links);
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> SpanTableEncoder::Impl::Finish() {
  const auto& schema = EncodedSpanTableSchema();
  auto type = [&](std::string_view name) {
    return schema->GetFieldByName(std::string(name))->type();
  };
  std::vector<std::shared_ptr<arrow::ArrayData>> c;
  c.reserve(schema->num_fields());
  auto add = [&](arrow::Result<std::shared_ptr<arrow::ArrayData>> r) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto data, std::move(r));
    c.push_back(std::move(data));
    return arrow::Status::OK();
  };
  // A list<struct<...>> column from its offsets and the struct's children.
  auto add_list =
      [&](OffsetsWriter* offsets, int64_t length, std::string_view name,
          std::vector<std::shared_ptr<arrow::ArrayData>> children) -> arrow::Status {
    const auto& list_type = type(name);
    auto item = arrow::ArrayData::Make(list_type->field(0)->type(), length, {nullptr}, 0);
    item->child_data = std::move(children);
    const int64_t slots = offsets->slots();
    ARROW_ASSIGN_OR_RAISE(auto buffer, offsets->Finish(length));
    auto list = arrow::ArrayData::Make(list_type, slots, {nullptr, std::move(buffer)}, 0);
    list->child_data = {std::move(item)};
    c.push_back(std::move(list));
    return arrow::Status::OK();
  };
  namespace col = column;
  // Schema order (span_schema.cc).
  ARROW_RETURN_NOT_OK(add(trace_id.Finish()));
  ARROW_RETURN_NOT_OK(add(span_id.Finish()));
  ARROW_RETURN_NOT_OK(add(parent_span_id.Finish()));
  ARROW_RETURN_NOT_OK(add(trace_state.Finish(arrow::utf8())));
  ARROW_RETURN_NOT_OK(add(flags.Finish(arrow::uint32())));
  ARROW_RETURN_NOT_OK(add(name.Finish(arrow::utf8())));
  ARROW_RETURN_NOT_OK(add(kind.Finish(arrow::int32())));
  ARROW_RETURN_NOT_OK(add(start_time_unix_nano.Finish(arrow::uint64())));
  ARROW_RETURN_NOT_OK(add(end_time_unix_nano.Finish(arrow::uint64())));
  ARROW_RETURN_NOT_OK(add(status_code.Finish(arrow::int32())));
  ARROW_RETURN_NOT_OK(add(status_message.Finish(arrow::utf8())));
  ARROW_RETURN_NOT_OK(add(attributes.Finish()));
  ARROW_RETURN_NOT_OK(add(dropped_attributes_count.Finish(arrow::uint32())));
  {
    ARROW_ASSIGN_OR_RAISE(auto time, event_time.Finish(arrow::uint64()));
    ARROW_ASSIGN_OR_RAISE(auto name_data, event_name.Finish(arrow::utf8()));
    ARROW_ASSIGN_OR_RAISE(auto attrs, event_attributes.Finish());
    ARROW_ASSIGN_OR_RAISE(auto dropped, event_dropped.Finish(arrow::uint32()));
    ARROW_RETURN_NOT_OK(
        add_list(&events, num_events, col::kEvents, {time, name_data, attrs, dropped}));
    num_events = 0;
  }
  ARROW_RETURN_NOT_OK(add(dropped_events_count.Finish(arrow::uint32())));
  {
    ARROW_ASSIGN_OR_RAISE(auto tid, link_trace_id.Finish());
    ARROW_ASSIGN_OR_RAISE(auto sid, link_span_id.Finish());
    ARROW_ASSIGN_OR_RAISE(auto state, link_trace_state.Finish(arrow::utf8()));
    ARROW_ASSIGN_OR_RAISE(auto attrs, link_attributes.Finish());
    ARROW_ASSIGN_OR_RAISE(auto dropped, link_dropped.Finish(arrow::uint32()));
    ARROW_ASSIGN_OR_RAISE(auto link_flag_data, link_flags.Finish(arrow::uint32()));
    ARROW_RETURN_NOT_OK(add_list(&links, num_links, col::kLinks,
                                 {tid, sid, state, attrs, dropped, link_flag_data}));
    num_links = 0;
  }
  ARROW_RETURN_NOT_OK(add(dropped_links_count.Finish(arrow::uint32())));
  ARROW_RETURN_NOT_OK(add(service_name.Finish()));
  ARROW_RETURN_NOT_OK(add(resource_attributes.Finish()));
  ARROW_RETURN_NOT_OK(add(resource_dropped_attributes_count.Finish(arrow::uint32())));
  ARROW_RETURN_NOT_OK(add(resource_schema_url.Finish()));
  ARROW_RETURN_NOT_OK(add(scope_name.Finish()));
  ARROW_RETURN_NOT_OK(add(scope_version.Finish()));
  ARROW_RETURN_NOT_OK(add(scope_attributes.Finish()));
  ARROW_RETURN_NOT_OK(add(scope_dropped_attributes_count.Finish(arrow::uint32())));
  ARROW_RETURN_NOT_OK(add(scope_schema_url.Finish()));
  const int64_t n = rows;
  rows = 0;
  return arrow::RecordBatch::Make(schema, n, std::move(c));
}

// --- wire-format input
// ----------------------------------------------------------------------- Field numbers
// are those of trace.proto / common.proto / resource.proto. A field with a known number
// but an unexpected wire type is skipped like an unknown field, as protobuf does.

namespace {

using internal::FieldPath;
using internal::ProtoReader;
using internal::ValidUtf8;

arrow::Status Malformed(const FieldPath& where) {
  return arrow::Status::Invalid(where.ToString(), ": malformed protobuf");
}

arrow::Status CheckUtf8(std::string_view s, const FieldPath& where, const char* field) {
  if (ARROW_PREDICT_TRUE(ValidUtf8(s))) return arrow::Status::OK();
  return arrow::Status::Invalid(where.ToString(), ".", field, ": not valid UTF-8");
}

}  // namespace

struct internal::WireResource {
  std::vector<std::string_view> attributes;
  uint32_t dropped_attributes_count = 0;
  std::string_view schema_url;
  std::string_view service_name;
};

arrow::Status SpanTableEncoder::Impl::AppendResourceSpansWire(std::string_view bytes,
                                                              int r) {
  const FieldPath where{nullptr, "resource_spans", r};
  const FieldPath resource_path{&where, "resource"};
  internal::WireResource resource;
  std::vector<std::string_view> scope_spans;
  ProtoReader reader(bytes);
  uint32_t field, type;
  while (!reader.done()) {
    if (!reader.Tag(&field, &type)) return Malformed(where);
    std::string_view value;
    if (type == ProtoReader::kLen && field >= 1 && field <= 3) {
      if (!reader.Len(&value)) return Malformed(where);
      if (field == 2) {
        scope_spans.push_back(value);
      } else if (field == 3) {
        ARROW_RETURN_NOT_OK(CheckUtf8(value, where, "schema_url"));
        resource.schema_url = value;
      } else {
        // Resource: repeated messages merge, as in protobuf. Read once, here; its
        // attributes are checked where they are encoded (CheckGroupAttributes when no
        // span carries them).
        ProtoReader res(value);
        while (!res.done()) {
          if (!res.Tag(&field, &type)) return Malformed(resource_path);
          std::string_view kv;
          uint64_t n;
          if (field == 1 && type == ProtoReader::kLen) {
            if (!res.Len(&kv)) return Malformed(resource_path);
            resource.attributes.push_back(kv);
          } else if (field == 2 && type == ProtoReader::kVarint) {
            if (!res.Varint(&n)) return Malformed(resource_path);
            resource.dropped_attributes_count = static_cast<uint32_t>(n);
          } else if (field == 3 && type == ProtoReader::kLen) {
            // entity_refs: not stored, but checked as protobuf would (rare).
            if (!res.Len(&kv)) return Malformed(resource_path);
            opentelemetry::proto::common::v1::EntityRef ref;
            if (!ref.ParseFromArray(kv.data(), static_cast<int>(kv.size()))) {
              return Malformed(FieldPath{&resource_path, "entity_refs"});
            }
          } else if (!res.Skip(type)) {
            return Malformed(resource_path);
          }
        }
      }
    } else if (!reader.Skip(type)) {
      return Malformed(where);
    }
  }
  resource.service_name = internal::ServiceNameFromWire(resource.attributes);
  const int64_t rows_before = rows;
  for (int k = 0; k < static_cast<int>(scope_spans.size()); ++k) {
    ARROW_RETURN_NOT_OK(AppendScopeSpansWire(resource, scope_spans[k], where, k));
  }
  if (rows == rows_before) {
    // No span carried the resource's attributes into the batch: checked alone.
    ARROW_RETURN_NOT_OK(
        CheckGroupAttributes(&resource_attributes, resource.attributes, resource_path));
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::CheckGroupAttributes(
    AttributesWriter* writer, const std::vector<std::string_view>& key_values,
    const FieldPath& where) {
  if (key_values.empty()) return arrow::Status::OK();
  // Encoded into one slot and rolled back: the same checks as for spans that carry
  // them, at the cost of a group that holds no span.
  internal::Marks marks;
  writer->SaveMark(&marks);
  arrow::Status status = writer->AppendWireRepeated(key_values, 1, where);
  internal::MarkReader reader(marks);
  writer->Rollback(&reader);
  return status;
}

arrow::Status SpanTableEncoder::Impl::AppendScopeSpansWire(
    const internal::WireResource& resource, std::string_view bytes, const FieldPath& rs,
    int k) {
  const FieldPath where{&rs, "scope_spans", k};
  const FieldPath scope_path{&where, "scope"};
  std::string_view name, version, schema_url;
  std::vector<std::string_view> attributes;
  uint32_t dropped = 0;
  int j = 0;
  ProtoReader reader(bytes);
  uint32_t field, type;
  // Spans are appended as they are read; the scope's fields may come after them on the
  // wire, so the group columns are written once the whole ScopeSpans has been read.
  while (!reader.done()) {
    if (!reader.Tag(&field, &type)) return Malformed(where);
    std::string_view value;
    if (type == ProtoReader::kLen && field >= 1 && field <= 3) {
      if (!reader.Len(&value)) return Malformed(where);
      if (field == 2) {
        ARROW_RETURN_NOT_OK(AppendSpanWire(value, FieldPath{&where, "spans", j++}));
      } else if (field == 3) {
        ARROW_RETURN_NOT_OK(CheckUtf8(value, where, "schema_url"));
        schema_url = value;
      } else {
        // Once per ScopeSpans, read here; its attributes are checked where they are
        // encoded, like the resource's.
        ProtoReader scope(value);
        while (!scope.done()) {
          if (!scope.Tag(&field, &type)) return Malformed(scope_path);
          std::string_view s;
          uint64_t n;
          if (type == ProtoReader::kLen && field >= 1 && field <= 3) {
            if (!scope.Len(&s)) return Malformed(scope_path);
            if (field == 1) ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "scope.name"));
            if (field == 2) ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "scope.version"));
            if (field == 1) name = s;
            if (field == 2) version = s;
            if (field == 3) attributes.push_back(s);
          } else if (field == 4 && type == ProtoReader::kVarint) {
            if (!scope.Varint(&n)) return Malformed(scope_path);
            dropped = static_cast<uint32_t>(n);
          } else if (!scope.Skip(type)) {
            return Malformed(scope_path);
          }
        }
      }
    } else if (!reader.Skip(type)) {
      return Malformed(where);
    }
  }
  const int64_t n = j;
  if (n == 0) return CheckGroupAttributes(&scope_attributes, attributes, scope_path);
  service_name.AppendRepeated(resource.service_name, n);
  const FieldPath resource_path{&rs, "resource"};
  ARROW_RETURN_NOT_OK(
      resource_attributes.AppendWireRepeated(resource.attributes, n, resource_path));
  resource_dropped_attributes_count.AppendRepeated(resource.dropped_attributes_count, n);
  resource_schema_url.AppendRepeated(resource.schema_url, n);
  scope_name.AppendRepeated(name, n);
  scope_version.AppendRepeated(version, n);
  ARROW_RETURN_NOT_OK(scope_attributes.AppendWireRepeated(attributes, n, scope_path));
  scope_dropped_attributes_count.AppendRepeated(dropped, n);
  scope_schema_url.AppendRepeated(schema_url, n);
  rows += n;
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendSpanWire(std::string_view bytes,
                                                     const FieldPath& where) {
  std::string_view tid, sid, pid, trace_state, span_name, status_message;
  uint32_t span_flags = 0, dropped_attributes = 0, dropped_events = 0, dropped_links = 0;
  int32_t span_kind = 0, code = 0;
  uint64_t start = 0, end = 0;
  int64_t n_events = 0, n_links = 0;
  int64_t attribute_index = 0;
  ProtoReader reader(bytes);
  uint32_t field, type;
  while (!reader.done()) {
    if (!reader.Tag(&field, &type)) return Malformed(where);
    std::string_view s;
    uint64_t v = 0;
    uint32_t v32 = 0;
    bool ok = true;
    switch (type) {
      case ProtoReader::kLen:
        ok = reader.Len(&s);
        if (!ok) break;
        switch (field) {
          case 1:
            tid = s;
            break;
          case 2:
            sid = s;
            break;
          case 3:
            ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "trace_state"));
            trace_state = s;
            break;
          case 4:
            pid = s;
            break;
          case 5:
            ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "name"));
            span_name = s;
            break;
          case 9:
            ARROW_RETURN_NOT_OK(attributes.AppendWireEntry(
                s, FieldPath{&where, "attributes", attribute_index++}));
            break;
          case 11:
            ARROW_RETURN_NOT_OK(
                AppendEventWire(s, FieldPath{&where, "events", n_events}));
            ++n_events;
            break;
          case 13:
            ARROW_RETURN_NOT_OK(AppendLinkWire(s, FieldPath{&where, "links", n_links}));
            ++n_links;
            break;
          case 15: {  // Status: message = 2, code = 3; repeated messages merge
            ProtoReader status(s);
            uint32_t f, t;
            while (!status.done()) {
              if (!status.Tag(&f, &t)) return Malformed(FieldPath{&where, "status"});
              bool good;
              if (f == 2 && t == ProtoReader::kLen) {
                good = status.Len(&status_message);
                if (good) {
                  ARROW_RETURN_NOT_OK(CheckUtf8(status_message, where, "status.message"));
                }
              } else if (f == 3 && t == ProtoReader::kVarint) {
                good = status.Varint(&v);
                code = static_cast<int32_t>(v);
              } else {
                good = status.Skip(t);
              }
              if (!good) return Malformed(FieldPath{&where, "status"});
            }
            break;
          }
          default:
            break;
        }
        break;
      case ProtoReader::kVarint:
        ok = reader.Varint(&v);
        if (field == 6) span_kind = static_cast<int32_t>(v);
        if (field == 10) dropped_attributes = static_cast<uint32_t>(v);
        if (field == 12) dropped_events = static_cast<uint32_t>(v);
        if (field == 14) dropped_links = static_cast<uint32_t>(v);
        break;
      case ProtoReader::kFixed64:
        ok = reader.Fixed64(&v);
        if (field == 7) start = v;
        if (field == 8) end = v;
        break;
      case ProtoReader::kFixed32:
        ok = reader.Fixed32(&v32);
        if (field == 16) span_flags = v32;
        break;
      default:
        ok = reader.Skip(type);
    }
    if (!ok) return Malformed(where);
  }
  attributes.CloseSlot();
  num_events += n_events;
  events.Append(num_events);
  num_links += n_links;
  links.Append(num_links);

  // The same checks, in the same order, as AppendSpan.
  if (ARROW_PREDICT_FALSE(tid.size() != otlp::kTraceIdSize)) {
    return IdWidthError(where.ToString(), "trace_id", otlp::kTraceIdSize, tid.size());
  }
  if (ARROW_PREDICT_FALSE(sid.size() != otlp::kSpanIdSize)) {
    return IdWidthError(where.ToString(), "span_id", otlp::kSpanIdSize, sid.size());
  }
  if (ARROW_PREDICT_FALSE(!pid.empty() && pid.size() != otlp::kSpanIdSize)) {
    return IdWidthError(where.ToString(), "parent_span_id", otlp::kSpanIdSize,
                        pid.size());
  }
  if (ARROW_PREDICT_FALSE(span_kind < 0 || span_kind > kMaxSpanKind)) {
    return arrow::Status::Invalid(where.ToString(), ".kind: ", span_kind,
                                  " is not a SpanKind (0..", kMaxSpanKind, ")");
  }
  if (ARROW_PREDICT_FALSE(code < 0 || code > kMaxStatusCode)) {
    return arrow::Status::Invalid(where.ToString(), ".status.code: ", code,
                                  " is not a StatusCode (0..", kMaxStatusCode, ")");
  }

  trace_id.Append(tid.data());
  span_id.Append(sid.data());
  if (pid.empty()) {
    parent_span_id.AppendNull();
  } else {
    parent_span_id.Append(pid.data());
  }
  AppendOptional(&this->trace_state, trace_state);
  flags.Append(span_flags);
  name.Append(span_name);
  kind.Append(span_kind);
  start_time_unix_nano.Append(start);
  end_time_unix_nano.Append(end);
  status_code.Append(code);
  AppendOptional(&this->status_message, status_message);
  dropped_attributes_count.Append(dropped_attributes);
  dropped_events_count.Append(dropped_events);
  dropped_links_count.Append(dropped_links);
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendEventWire(std::string_view bytes,
                                                      const FieldPath& where) {
  std::string_view event_name_value;
  uint64_t time = 0, v = 0;
  uint32_t dropped = 0;
  int64_t attribute_index = 0;
  ProtoReader reader(bytes);
  uint32_t field, type;
  while (!reader.done()) {
    if (!reader.Tag(&field, &type)) return Malformed(where);
    std::string_view s;
    bool ok;
    if (type == ProtoReader::kLen && (field == 2 || field == 3)) {
      ok = reader.Len(&s);
      if (ok && field == 2) ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "name"));
      if (ok && field == 2) event_name_value = s;
      if (ok && field == 3) {
        ARROW_RETURN_NOT_OK(event_attributes.AppendWireEntry(
            s, FieldPath{&where, "attributes", attribute_index++}));
      }
    } else if (field == 1 && type == ProtoReader::kFixed64) {
      ok = reader.Fixed64(&time);
    } else if (field == 4 && type == ProtoReader::kVarint) {
      ok = reader.Varint(&v);
      dropped = static_cast<uint32_t>(v);
    } else {
      ok = reader.Skip(type);
    }
    if (!ok) return Malformed(where);
  }
  event_attributes.CloseSlot();
  event_time.Append(time);
  event_name.Append(event_name_value);
  event_dropped.Append(dropped);
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendLinkWire(std::string_view bytes,
                                                     const FieldPath& where) {
  std::string_view tid, sid, state;
  uint64_t v = 0;
  uint32_t dropped = 0, link_flag = 0;
  int64_t attribute_index = 0;
  ProtoReader reader(bytes);
  uint32_t field, type;
  while (!reader.done()) {
    if (!reader.Tag(&field, &type)) return Malformed(where);
    std::string_view s;
    bool ok;
    if (type == ProtoReader::kLen && field >= 1 && field <= 4) {
      ok = reader.Len(&s);
      if (ok && field == 1) tid = s;
      if (ok && field == 2) sid = s;
      if (ok && field == 3) ARROW_RETURN_NOT_OK(CheckUtf8(s, where, "trace_state"));
      if (ok && field == 3) state = s;
      if (ok && field == 4) {
        ARROW_RETURN_NOT_OK(link_attributes.AppendWireEntry(
            s, FieldPath{&where, "attributes", attribute_index++}));
      }
    } else if (field == 5 && type == ProtoReader::kVarint) {
      ok = reader.Varint(&v);
      dropped = static_cast<uint32_t>(v);
    } else if (field == 6 && type == ProtoReader::kFixed32) {
      ok = reader.Fixed32(&link_flag);
    } else {
      ok = reader.Skip(type);
    }
    if (!ok) return Malformed(where);
  }
  if (tid.size() != otlp::kTraceIdSize) {
    return IdWidthError(where.ToString(), "trace_id", otlp::kTraceIdSize, tid.size());
  }
  if (sid.size() != otlp::kSpanIdSize) {
    return IdWidthError(where.ToString(), "span_id", otlp::kSpanIdSize, sid.size());
  }
  link_attributes.CloseSlot();
  link_trace_id.Append(tid.data());
  link_span_id.Append(sid.data());
  AppendOptional(&link_trace_state, state);
  link_dropped.Append(dropped);
  link_flags.Append(link_flag);
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::AppendOtlpProtobuf(std::string_view bytes) {
  impl_->SaveMark(&impl_->append_mark);
  ProtoReader reader(bytes);
  uint32_t field, type;
  int r = 0;
  while (!reader.done()) {
    const FieldPath request{nullptr, "ExportTraceServiceRequest"};
    if (!reader.Tag(&field, &type)) return RollBack(Malformed(request));
    std::string_view value;
    if (field == 1 && type == ProtoReader::kLen) {
      if (!reader.Len(&value)) return RollBack(Malformed(request));
      ARROW_RETURN_NOT_OK(RollBack(impl_->AppendResourceSpansWire(value, r++)));
    } else if (!reader.Skip(type)) {
      return RollBack(Malformed(request));
    }
  }
  return RollBack(arrow::Status::OK());
}

arrow::Status SpanTableEncoder::RollBack(arrow::Status status) {
  // Writers may hold part of a span: back to where the call started rather than emit a
  // torn batch. The writers' allocations are checked here, once per call, so that a
  // failure is the failing request's and not the batch's.
  if (status.ok() && !impl_->ok()) {
    status = arrow::Status::CapacityError(
        "the spans do not fit in one batch: an allocation failed or a column would pass "
        "2 GiB");
  }
  if (!status.ok()) impl_->Rollback(impl_->append_mark);
  return status;
}

SpanTableEncoder::Checkpoint SpanTableEncoder::SaveCheckpoint() const {
  Checkpoint checkpoint;
  impl_->SaveMark(&checkpoint.sizes);
  return checkpoint;
}

void SpanTableEncoder::RollbackTo(const Checkpoint& checkpoint) {
  if (checkpoint.sizes.empty()) return;
  impl_->Rollback(checkpoint.sizes);
}

int64_t SpanTableEncoder::EncodedBytes() const { return impl_->bytes(); }

SpanTableEncoder::SpanTableEncoder(arrow::MemoryPool* pool)
    : impl_(std::make_unique<Impl>(pool)) {}

SpanTableEncoder::~SpanTableEncoder() = default;

int64_t SpanTableEncoder::num_rows() const { return impl_->rows; }

arrow::Status SpanTableEncoder::Append(const otlp::ExportTraceServiceRequest& request) {
  impl_->SaveMark(&impl_->append_mark);
  for (int r = 0; r < request.resource_spans_size(); ++r) {
    ARROW_RETURN_NOT_OK(RollBack(AppendResourceSpans(request.resource_spans(r), r)));
  }
  return RollBack(arrow::Status::OK());
}

arrow::Status SpanTableEncoder::Append(const otlp::ResourceSpans& resource_spans) {
  impl_->SaveMark(&impl_->append_mark);
  return RollBack(AppendResourceSpans(resource_spans, 0));
}

arrow::Status SpanTableEncoder::AppendResourceSpans(const otlp::ResourceSpans& rs,
                                                    int r) {
  for (int k = 0; k < rs.scope_spans_size(); ++k) {
    ARROW_RETURN_NOT_OK(impl_->AppendScopeSpans(rs, rs.scope_spans(k), r, k));
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> SpanTableEncoder::Finish() {
  auto result = impl_->Finish();
  if (!result.ok()) impl_ = std::make_unique<Impl>(impl_->pool);
  return result;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> SpanTableEncoder::Encode(
    const otlp::ExportTraceServiceRequest& request, arrow::MemoryPool* pool) {
  SpanTableEncoder encoder(pool);
  ARROW_RETURN_NOT_OK(encoder.Append(request));
  return encoder.Finish();
}

}  // namespace otlp_arrow::convert
