// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/convert/span_table_encoder.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/record_batch.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::convert {

namespace {

using internal::AttributesBuilder;

constexpr int kMaxSpanKind = 5;
constexpr int kMaxStatusCode = 2;

/// Builds a dictionary<int32, utf8> column for strings that are constant across a resource or
/// scope group: the dictionary lookup runs once per group, each row costs one index append.
class GroupDictionaryBuilder {
 public:
  explicit GroupDictionaryBuilder(arrow::MemoryPool* pool) : values_(pool), indices_(pool) {}

  /// Appends `count` rows holding `value`; an empty string (proto3's absent) is null.
  arrow::Status AppendRepeated(std::string_view value, int64_t count) {
    if (value.empty()) return indices_.AppendNulls(count);
    auto it = memo_.find(std::string(value));
    int32_t index;
    if (it != memo_.end()) {
      index = it->second;
    } else {
      index = static_cast<int32_t>(memo_.size());
      memo_.emplace(std::string(value), index);
      ARROW_RETURN_NOT_OK(values_.Append(value));
    }
    ARROW_RETURN_NOT_OK(indices_.Reserve(count));
    for (int64_t i = 0; i < count; ++i) indices_.UnsafeAppend(index);
    return arrow::Status::OK();
  }

  arrow::Result<std::shared_ptr<arrow::Array>> Finish() {
    std::shared_ptr<arrow::Array> indices, values;
    ARROW_RETURN_NOT_OK(indices_.Finish(&indices));
    ARROW_RETURN_NOT_OK(values_.Finish(&values));
    memo_.clear();
    return arrow::DictionaryArray::FromArrays(arrow::dictionary(arrow::int32(), arrow::utf8()),
                                              indices, values);
  }

 private:
  arrow::StringBuilder values_;
  arrow::Int32Builder indices_;
  std::unordered_map<std::string, int32_t> memo_;
};

template <typename Builder>
arrow::Status AppendRepeated(Builder* builder, typename Builder::value_type value,
                             int64_t count) {
  ARROW_RETURN_NOT_OK(builder->Reserve(count));
  for (int64_t i = 0; i < count; ++i) builder->UnsafeAppend(value);
  return arrow::Status::OK();
}

arrow::Status AppendOptionalString(arrow::StringBuilder* builder, const std::string& value) {
  return value.empty() ? builder->AppendNull() : builder->Append(value);
}

std::string_view ServiceName(const otlp::Resource& resource) {
  for (const auto& kv : resource.attributes()) {
    if (kv.key() == "service.name" &&
        kv.value().value_case() == otlp::AnyValue::kStringValue) {
      return kv.value().string_value();
    }
  }
  return {};
}

}  // namespace

struct SpanTableEncoder::Impl {
  explicit Impl(arrow::MemoryPool* pool)
      : pool(pool),
        trace_id(arrow::fixed_size_binary(otlp::kTraceIdSize), pool),
        span_id(arrow::fixed_size_binary(otlp::kSpanIdSize), pool),
        parent_span_id(arrow::fixed_size_binary(otlp::kSpanIdSize), pool),
        trace_state(pool),
        flags(pool),
        name(pool),
        kind(pool),
        start_time_unix_nano(pool),
        end_time_unix_nano(pool),
        start_time(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), pool),
        duration_ns(pool),
        status_code(pool),
        status_message(pool),
        attributes(pool),
        dropped_attributes_count(pool),
        dropped_events_count(pool),
        dropped_links_count(pool),
        service_name(pool),
        resource_attributes(pool),
        resource_dropped_attributes_count(pool),
        resource_schema_url(pool),
        scope_name(pool),
        scope_version(pool),
        scope_attributes(pool),
        scope_dropped_attributes_count(pool),
        scope_schema_url(pool),
        group_attributes(pool),
        event_attributes(pool),
        link_attributes(pool) {
    const auto& event_type =
        static_cast<const arrow::ListType&>(*EventsType()).value_type();
    auto event_time = std::make_shared<arrow::UInt64Builder>(pool);
    auto event_name = std::make_shared<arrow::StringBuilder>(pool);
    auto event_dropped = std::make_shared<arrow::UInt32Builder>(pool);
    event_time_ = event_time.get();
    event_name_ = event_name.get();
    event_dropped_ = event_dropped.get();
    auto event = std::make_shared<arrow::StructBuilder>(
        event_type, pool,
        std::vector<std::shared_ptr<arrow::ArrayBuilder>>{
            event_time, event_name, event_attributes.builder(), event_dropped});
    event_ = event.get();
    events = std::make_unique<arrow::ListBuilder>(pool, event, EventsType());

    const auto& link_type = static_cast<const arrow::ListType&>(*LinksType()).value_type();
    auto link_trace_id = std::make_shared<arrow::FixedSizeBinaryBuilder>(
        arrow::fixed_size_binary(otlp::kTraceIdSize), pool);
    auto link_span_id = std::make_shared<arrow::FixedSizeBinaryBuilder>(
        arrow::fixed_size_binary(otlp::kSpanIdSize), pool);
    auto link_trace_state = std::make_shared<arrow::StringBuilder>(pool);
    auto link_dropped = std::make_shared<arrow::UInt32Builder>(pool);
    auto link_flags = std::make_shared<arrow::UInt32Builder>(pool);
    link_trace_id_ = link_trace_id.get();
    link_span_id_ = link_span_id.get();
    link_trace_state_ = link_trace_state.get();
    link_dropped_ = link_dropped.get();
    link_flags_ = link_flags.get();
    auto link = std::make_shared<arrow::StructBuilder>(
        link_type, pool,
        std::vector<std::shared_ptr<arrow::ArrayBuilder>>{
            link_trace_id, link_span_id, link_trace_state, link_attributes.builder(),
            link_dropped, link_flags});
    link_ = link.get();
    links = std::make_unique<arrow::ListBuilder>(pool, link, LinksType());
  }

  arrow::Status AppendResourceSpans(const otlp::ResourceSpans& rs, int r);
  arrow::Status AppendScopeSpans(const otlp::ResourceSpans& rs, const otlp::ScopeSpans& ss,
                                 int r, int k);
  arrow::Status AppendSpan(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendEvents(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendLinks(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendGroupAttributes(const internal::KeyValues& kvs, int64_t count,
                                      AttributesBuilder* target, const std::string& path);
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  arrow::MemoryPool* pool;
  int64_t rows = 0;

  arrow::FixedSizeBinaryBuilder trace_id;
  arrow::FixedSizeBinaryBuilder span_id;
  arrow::FixedSizeBinaryBuilder parent_span_id;
  arrow::StringBuilder trace_state;
  arrow::UInt32Builder flags;
  arrow::StringBuilder name;
  arrow::Int32Builder kind;
  arrow::UInt64Builder start_time_unix_nano;
  arrow::UInt64Builder end_time_unix_nano;
  arrow::TimestampBuilder start_time;
  arrow::Int64Builder duration_ns;
  arrow::Int32Builder status_code;
  arrow::StringBuilder status_message;
  AttributesBuilder attributes;
  arrow::UInt32Builder dropped_attributes_count;
  std::unique_ptr<arrow::ListBuilder> events;
  arrow::UInt32Builder dropped_events_count;
  std::unique_ptr<arrow::ListBuilder> links;
  arrow::UInt32Builder dropped_links_count;
  GroupDictionaryBuilder service_name;
  AttributesBuilder resource_attributes;
  arrow::UInt32Builder resource_dropped_attributes_count;
  GroupDictionaryBuilder resource_schema_url;
  GroupDictionaryBuilder scope_name;
  GroupDictionaryBuilder scope_version;
  AttributesBuilder scope_attributes;
  arrow::UInt32Builder scope_dropped_attributes_count;
  GroupDictionaryBuilder scope_schema_url;

  // Scratch builder: a resource's or scope's attributes are encoded once per group here, then
  // copied into each row of the group.
  AttributesBuilder group_attributes;

  AttributesBuilder event_attributes;
  arrow::StructBuilder* event_;
  arrow::UInt64Builder* event_time_;
  arrow::StringBuilder* event_name_;
  arrow::UInt32Builder* event_dropped_;

  AttributesBuilder link_attributes;
  arrow::StructBuilder* link_;
  arrow::FixedSizeBinaryBuilder* link_trace_id_;
  arrow::FixedSizeBinaryBuilder* link_span_id_;
  arrow::StringBuilder* link_trace_state_;
  arrow::UInt32Builder* link_dropped_;
  arrow::UInt32Builder* link_flags_;
};

namespace {

std::string SpanPath(int r, int k, int j) {
  return "resource_spans[" + std::to_string(r) + "].scope_spans[" + std::to_string(k) +
         "].spans[" + std::to_string(j) + "]";
}

arrow::Status CheckIdWidth(const std::string& id, size_t width, int r, int k, int j,
                           const char* field) {
  if (id.size() == width) return arrow::Status::OK();
  return arrow::Status::Invalid(SpanPath(r, k, j), ".", field, ": expected ", width,
                                " bytes, got ", id.size());
}

}  // namespace

arrow::Status SpanTableEncoder::Impl::AppendResourceSpans(const otlp::ResourceSpans& rs,
                                                          int r) {
  for (int k = 0; k < rs.scope_spans_size(); ++k) {
    ARROW_RETURN_NOT_OK(AppendScopeSpans(rs, rs.scope_spans(k), r, k));
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendGroupAttributes(const internal::KeyValues& kvs,
                                                            int64_t count,
                                                            AttributesBuilder* target,
                                                            const std::string& path) {
  if (kvs.empty()) return target->builder()->AppendEmptyValues(count);
  if (count == 1) return target->Append(kvs, [&] { return path; });
  ARROW_RETURN_NOT_OK(group_attributes.Append(kvs, [&] { return path; }));
  std::shared_ptr<arrow::ArrayData> once;
  ARROW_RETURN_NOT_OK(group_attributes.builder()->FinishInternal(&once));
  return target->AppendCopies(*once, 0, count);
}

arrow::Status SpanTableEncoder::Impl::AppendScopeSpans(const otlp::ResourceSpans& rs,
                                                       const otlp::ScopeSpans& ss, int r,
                                                       int k) {
  const int64_t n = ss.spans_size();
  if (n == 0) return arrow::Status::OK();

  // Columns that repeat the resource and the scope: computed once for the group.
  const otlp::Resource& resource = rs.resource();
  const otlp::InstrumentationScope& scope = ss.scope();
  const std::string resource_path = "resource_spans[" + std::to_string(r) + "].resource";
  ARROW_RETURN_NOT_OK(service_name.AppendRepeated(ServiceName(resource), n));
  ARROW_RETURN_NOT_OK(
      AppendGroupAttributes(resource.attributes(), n, &resource_attributes, resource_path));
  ARROW_RETURN_NOT_OK(AppendRepeated(&resource_dropped_attributes_count,
                                     resource.dropped_attributes_count(), n));
  ARROW_RETURN_NOT_OK(resource_schema_url.AppendRepeated(rs.schema_url(), n));
  ARROW_RETURN_NOT_OK(scope_name.AppendRepeated(scope.name(), n));
  ARROW_RETURN_NOT_OK(scope_version.AppendRepeated(scope.version(), n));
  ARROW_RETURN_NOT_OK(AppendGroupAttributes(
      scope.attributes(), n, &scope_attributes,
      "resource_spans[" + std::to_string(r) + "].scope_spans[" + std::to_string(k) +
          "].scope"));
  ARROW_RETURN_NOT_OK(
      AppendRepeated(&scope_dropped_attributes_count, scope.dropped_attributes_count(), n));
  ARROW_RETURN_NOT_OK(scope_schema_url.AppendRepeated(ss.schema_url(), n));

  // Fixed-width per-span columns: reserve once, then append without checks.
  ARROW_RETURN_NOT_OK(trace_id.Reserve(n));
  ARROW_RETURN_NOT_OK(span_id.Reserve(n));
  ARROW_RETURN_NOT_OK(parent_span_id.Reserve(n));
  ARROW_RETURN_NOT_OK(flags.Reserve(n));
  ARROW_RETURN_NOT_OK(kind.Reserve(n));
  ARROW_RETURN_NOT_OK(start_time_unix_nano.Reserve(n));
  ARROW_RETURN_NOT_OK(end_time_unix_nano.Reserve(n));
  ARROW_RETURN_NOT_OK(start_time.Reserve(n));
  ARROW_RETURN_NOT_OK(duration_ns.Reserve(n));
  ARROW_RETURN_NOT_OK(status_code.Reserve(n));
  ARROW_RETURN_NOT_OK(dropped_attributes_count.Reserve(n));
  ARROW_RETURN_NOT_OK(dropped_events_count.Reserve(n));
  ARROW_RETURN_NOT_OK(dropped_links_count.Reserve(n));
  for (int j = 0; j < n; ++j) {
    ARROW_RETURN_NOT_OK(AppendSpan(ss.spans(j), r, k, j));
  }
  rows += n;
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendSpan(const otlp::Span& span, int r, int k,
                                                 int j) {
  ARROW_RETURN_NOT_OK(CheckIdWidth(span.trace_id(), otlp::kTraceIdSize, r, k, j, "trace_id"));
  ARROW_RETURN_NOT_OK(CheckIdWidth(span.span_id(), otlp::kSpanIdSize, r, k, j, "span_id"));
  if (!span.parent_span_id().empty()) {
    ARROW_RETURN_NOT_OK(
        CheckIdWidth(span.parent_span_id(), otlp::kSpanIdSize, r, k, j, "parent_span_id"));
  }
  const int span_kind = static_cast<int>(span.kind());
  if (span_kind < 0 || span_kind > kMaxSpanKind) {
    return arrow::Status::Invalid(SpanPath(r, k, j), ".kind: ", span_kind,
                                  " is not a SpanKind (0..", kMaxSpanKind, ")");
  }
  const int code = static_cast<int>(span.status().code());
  if (code < 0 || code > kMaxStatusCode) {
    return arrow::Status::Invalid(SpanPath(r, k, j), ".status.code: ", code,
                                  " is not a StatusCode (0..", kMaxStatusCode, ")");
  }

  trace_id.UnsafeAppend(span.trace_id().data());
  span_id.UnsafeAppend(span.span_id().data());
  if (span.parent_span_id().empty()) {
    parent_span_id.UnsafeAppendNull();
  } else {
    parent_span_id.UnsafeAppend(span.parent_span_id().data());
  }
  ARROW_RETURN_NOT_OK(AppendOptionalString(&trace_state, span.trace_state()));
  flags.UnsafeAppend(span.flags());
  ARROW_RETURN_NOT_OK(name.Append(span.name()));
  kind.UnsafeAppend(span_kind);
  const uint64_t start = span.start_time_unix_nano();
  const uint64_t end = span.end_time_unix_nano();
  start_time_unix_nano.UnsafeAppend(start);
  end_time_unix_nano.UnsafeAppend(end);
  // Derived for query engines: microseconds fit int64 for every uint64 of nanoseconds.
  start_time.UnsafeAppend(static_cast<int64_t>(start / 1000));
  duration_ns.UnsafeAppend(static_cast<int64_t>(end - start));
  status_code.UnsafeAppend(code);
  ARROW_RETURN_NOT_OK(AppendOptionalString(&status_message, span.status().message()));
  ARROW_RETURN_NOT_OK(
      attributes.Append(span.attributes(), [&] { return SpanPath(r, k, j); }));
  dropped_attributes_count.UnsafeAppend(span.dropped_attributes_count());
  ARROW_RETURN_NOT_OK(AppendEvents(span, r, k, j));
  dropped_events_count.UnsafeAppend(span.dropped_events_count());
  ARROW_RETURN_NOT_OK(AppendLinks(span, r, k, j));
  dropped_links_count.UnsafeAppend(span.dropped_links_count());
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendEvents(const otlp::Span& span, int r, int k,
                                                   int j) {
  ARROW_RETURN_NOT_OK(events->Append());
  for (int e = 0; e < span.events_size(); ++e) {
    const auto& event = span.events(e);
    ARROW_RETURN_NOT_OK(event_->Append());
    ARROW_RETURN_NOT_OK(event_time_->Append(event.time_unix_nano()));
    ARROW_RETURN_NOT_OK(event_name_->Append(event.name()));
    ARROW_RETURN_NOT_OK(event_attributes.Append(event.attributes(), [&] {
      return SpanPath(r, k, j) + ".events[" + std::to_string(e) + "]";
    }));
    ARROW_RETURN_NOT_OK(event_dropped_->Append(event.dropped_attributes_count()));
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Impl::AppendLinks(const otlp::Span& span, int r, int k,
                                                  int j) {
  ARROW_RETURN_NOT_OK(links->Append());
  for (int l = 0; l < span.links_size(); ++l) {
    const auto& link = span.links(l);
    const std::string field = "links[" + std::to_string(l) + "]";
    ARROW_RETURN_NOT_OK(CheckIdWidth(link.trace_id(), otlp::kTraceIdSize, r, k, j,
                                     (field + ".trace_id").c_str()));
    ARROW_RETURN_NOT_OK(CheckIdWidth(link.span_id(), otlp::kSpanIdSize, r, k, j,
                                     (field + ".span_id").c_str()));
    ARROW_RETURN_NOT_OK(link_->Append());
    ARROW_RETURN_NOT_OK(link_trace_id_->Append(link.trace_id().data()));
    ARROW_RETURN_NOT_OK(link_span_id_->Append(link.span_id().data()));
    ARROW_RETURN_NOT_OK(AppendOptionalString(link_trace_state_, link.trace_state()));
    ARROW_RETURN_NOT_OK(link_attributes.Append(
        link.attributes(), [&] { return SpanPath(r, k, j) + "." + field; }));
    ARROW_RETURN_NOT_OK(link_dropped_->Append(link.dropped_attributes_count()));
    ARROW_RETURN_NOT_OK(link_flags_->Append(link.flags()));
  }
  return arrow::Status::OK();
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> SpanTableEncoder::Impl::Finish() {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(SpanTableSchema()->num_fields());
  auto add = [&](arrow::ArrayBuilder* builder) -> arrow::Status {
    std::shared_ptr<arrow::Array> array;
    ARROW_RETURN_NOT_OK(builder->Finish(&array));
    columns.push_back(std::move(array));
    return arrow::Status::OK();
  };
  auto add_dict = [&](GroupDictionaryBuilder* builder) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto array, builder->Finish());
    columns.push_back(std::move(array));
    return arrow::Status::OK();
  };
  // Schema order (span_schema.cc).
  ARROW_RETURN_NOT_OK(add(&trace_id));
  ARROW_RETURN_NOT_OK(add(&span_id));
  ARROW_RETURN_NOT_OK(add(&parent_span_id));
  ARROW_RETURN_NOT_OK(add(&trace_state));
  ARROW_RETURN_NOT_OK(add(&flags));
  ARROW_RETURN_NOT_OK(add(&name));
  ARROW_RETURN_NOT_OK(add(&kind));
  ARROW_RETURN_NOT_OK(add(&start_time_unix_nano));
  ARROW_RETURN_NOT_OK(add(&end_time_unix_nano));
  ARROW_RETURN_NOT_OK(add(&start_time));
  ARROW_RETURN_NOT_OK(add(&duration_ns));
  ARROW_RETURN_NOT_OK(add(&status_code));
  ARROW_RETURN_NOT_OK(add(&status_message));
  ARROW_RETURN_NOT_OK(add(attributes.builder().get()));
  ARROW_RETURN_NOT_OK(add(&dropped_attributes_count));
  ARROW_RETURN_NOT_OK(add(events.get()));
  ARROW_RETURN_NOT_OK(add(&dropped_events_count));
  ARROW_RETURN_NOT_OK(add(links.get()));
  ARROW_RETURN_NOT_OK(add(&dropped_links_count));
  ARROW_RETURN_NOT_OK(add_dict(&service_name));
  ARROW_RETURN_NOT_OK(add(resource_attributes.builder().get()));
  ARROW_RETURN_NOT_OK(add(&resource_dropped_attributes_count));
  ARROW_RETURN_NOT_OK(add_dict(&resource_schema_url));
  ARROW_RETURN_NOT_OK(add_dict(&scope_name));
  ARROW_RETURN_NOT_OK(add_dict(&scope_version));
  ARROW_RETURN_NOT_OK(add(scope_attributes.builder().get()));
  ARROW_RETURN_NOT_OK(add(&scope_dropped_attributes_count));
  ARROW_RETURN_NOT_OK(add_dict(&scope_schema_url));
  const int64_t n = rows;
  rows = 0;
  return arrow::RecordBatch::Make(SpanTableSchema(), n, std::move(columns));
}

SpanTableEncoder::SpanTableEncoder(arrow::MemoryPool* pool)
    : impl_(std::make_unique<Impl>(pool)) {}

SpanTableEncoder::~SpanTableEncoder() = default;

int64_t SpanTableEncoder::num_rows() const { return impl_->rows; }

arrow::Status SpanTableEncoder::Append(const otlp::ExportTraceServiceRequest& request) {
  for (int r = 0; r < request.resource_spans_size(); ++r) {
    auto status = impl_->AppendResourceSpans(request.resource_spans(r), r);
    if (!status.ok()) {
      impl_ = std::make_unique<Impl>(impl_->pool);
      return status;
    }
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableEncoder::Append(const otlp::ResourceSpans& resource_spans) {
  auto status = impl_->AppendResourceSpans(resource_spans, 0);
  if (!status.ok()) impl_ = std::make_unique<Impl>(impl_->pool);
  return status;
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
