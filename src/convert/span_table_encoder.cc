// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/convert/span_table_encoder.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::convert {

namespace {

using internal::AttributesWriter;
using TraceIdWriter = internal::FixedBinaryWriter<otlp::kTraceIdSize>;
using SpanIdWriter = internal::FixedBinaryWriter<otlp::kSpanIdSize>;
using internal::FixedWriter;
using internal::OffsetsWriter;
using internal::StringWriter;

constexpr int kMaxSpanKind = 5;
constexpr int kMaxStatusCode = 2;

/// A dictionary<int32, utf8> column for strings that are constant across a resource or
/// scope group: the dictionary lookup runs once per group, each row costs one index.
class GroupDictionaryWriter {
 public:
  explicit GroupDictionaryWriter(arrow::MemoryPool* pool)
      : values_(pool), indices_(pool) {}

  /// Appends `count` rows holding `value`; an empty string (proto3's absent) is null.
  void AppendRepeated(std::string_view value, int64_t count) {
    if (value.empty()) return indices_.AppendNulls(count);
    int32_t index;
    if (!last_.empty() && value == last_) {
      index = last_index_;
    } else {
      auto [it, inserted] =
          memo_.try_emplace(std::string(value), static_cast<int32_t>(memo_.size()));
      if (inserted) values_.Append(value);
      index = it->second;
      last_ = it->first;
      last_index_ = index;
    }
    indices_.AppendRepeated(index, count);
  }

  arrow::Result<std::shared_ptr<arrow::ArrayData>> Finish() {
    ARROW_ASSIGN_OR_RAISE(auto indices, indices_.Finish(arrow::int32()));
    ARROW_ASSIGN_OR_RAISE(auto values, values_.Finish(arrow::utf8()));
    memo_.clear();
    last_ = {};
    indices->type = arrow::dictionary(arrow::int32(), arrow::utf8());
    indices->dictionary = std::move(values);
    return indices;
  }

 private:
  StringWriter values_;
  FixedWriter<int32_t> indices_;
  std::unordered_map<std::string, int32_t> memo_;
  std::string_view last_;  // key of memo_, stable until memo_ is cleared
  int32_t last_index_ = 0;
};

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

void AppendOptional(StringWriter* writer, const std::string& value) {
  if (value.empty()) {
    writer->AppendNull();
  } else {
    writer->Append(value);
  }
}

}  // namespace

struct SpanTableEncoder::Impl {
  explicit Impl(arrow::MemoryPool* pool)
      : pool(pool),
        trace_id(pool),
        span_id(pool),
        parent_span_id(pool),
        trace_state(pool),
        flags(pool),
        name(pool),
        kind(pool),
        start_time_unix_nano(pool),
        end_time_unix_nano(pool),
        start_time(pool),
        duration_ns(pool),
        status_code(pool),
        status_message(pool),
        attributes(pool),
        dropped_attributes_count(pool),
        events(pool),
        event_time(pool),
        event_name(pool),
        event_attributes(pool),
        event_dropped(pool),
        dropped_events_count(pool),
        links(pool),
        link_trace_id(pool),
        link_span_id(pool),
        link_trace_state(pool),
        link_attributes(pool),
        link_dropped(pool),
        link_flags(pool),
        dropped_links_count(pool),
        service_name(pool),
        resource_attributes(pool),
        resource_dropped_attributes_count(pool),
        resource_schema_url(pool),
        scope_name(pool),
        scope_version(pool),
        scope_attributes(pool),
        scope_dropped_attributes_count(pool),
        scope_schema_url(pool) {}

  arrow::Status AppendScopeSpans(const otlp::ResourceSpans& rs,
                                 const otlp::ScopeSpans& ss, int r, int k);
  arrow::Status AppendSpan(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendEvents(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendLinks(const otlp::Span& span, int r, int k, int j);
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  arrow::MemoryPool* pool;
  int64_t rows = 0;

  TraceIdWriter trace_id;
  SpanIdWriter span_id;
  SpanIdWriter parent_span_id;
  StringWriter trace_state;
  FixedWriter<uint32_t> flags;
  StringWriter name;
  FixedWriter<int32_t> kind;
  FixedWriter<uint64_t> start_time_unix_nano;
  FixedWriter<uint64_t> end_time_unix_nano;
  FixedWriter<int64_t> start_time;
  FixedWriter<int64_t> duration_ns;
  FixedWriter<int32_t> status_code;
  StringWriter status_message;
  AttributesWriter attributes;
  FixedWriter<uint32_t> dropped_attributes_count;
  OffsetsWriter events;
  int64_t num_events = 0;
  FixedWriter<uint64_t> event_time;
  StringWriter event_name;
  AttributesWriter event_attributes;
  FixedWriter<uint32_t> event_dropped;
  FixedWriter<uint32_t> dropped_events_count;
  OffsetsWriter links;
  int64_t num_links = 0;
  TraceIdWriter link_trace_id;
  SpanIdWriter link_span_id;
  StringWriter link_trace_state;
  AttributesWriter link_attributes;
  FixedWriter<uint32_t> link_dropped;
  FixedWriter<uint32_t> link_flags;
  FixedWriter<uint32_t> dropped_links_count;
  GroupDictionaryWriter service_name;
  AttributesWriter resource_attributes;
  FixedWriter<uint32_t> resource_dropped_attributes_count;
  GroupDictionaryWriter resource_schema_url;
  GroupDictionaryWriter scope_name;
  GroupDictionaryWriter scope_version;
  AttributesWriter scope_attributes;
  FixedWriter<uint32_t> scope_dropped_attributes_count;
  GroupDictionaryWriter scope_schema_url;
};

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
  // Derived for query engines: microseconds of any uint64 of nanoseconds fit an int64.
  start_time.Append(static_cast<int64_t>(start / 1000));
  duration_ns.Append(static_cast<int64_t>(end - start));
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
  const auto& schema = SpanTableSchema();
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
  ARROW_RETURN_NOT_OK(add(start_time.Finish(type(col::kStartTime))));
  ARROW_RETURN_NOT_OK(add(duration_ns.Finish(arrow::int64())));
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

SpanTableEncoder::SpanTableEncoder(arrow::MemoryPool* pool)
    : impl_(std::make_unique<Impl>(pool)) {}

SpanTableEncoder::~SpanTableEncoder() = default;

int64_t SpanTableEncoder::num_rows() const { return impl_->rows; }

arrow::Status SpanTableEncoder::Append(const otlp::ExportTraceServiceRequest& request) {
  for (int r = 0; r < request.resource_spans_size(); ++r) {
    ARROW_RETURN_NOT_OK(AppendResourceSpans(request.resource_spans(r), r));
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Append(const otlp::ResourceSpans& resource_spans) {
  return AppendResourceSpans(resource_spans, 0);
}

arrow::Status SpanTableEncoder::AppendResourceSpans(const otlp::ResourceSpans& rs,
                                                    int r) {
  for (int k = 0; k < rs.scope_spans_size(); ++k) {
    auto status = impl_->AppendScopeSpans(rs, rs.scope_spans(k), r, k);
    if (!status.ok()) {
      // Writers may hold part of a span: start over rather than emit a torn batch.
      impl_ = std::make_unique<Impl>(impl_->pool);
      return status;
    }
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
