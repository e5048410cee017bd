// SPDX-License-Identifier: Apache-2.0
// The SpanTableEncoder's column writers, for the other encoders of the span table in
// this folder (OTAP: otap_traces_decoder.cc) that append rows straight into them.

#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/record_batch.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_table_encoder.h"

namespace otlp_arrow::convert {

namespace internal {

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

  void SaveMark(internal::Marks* marks) const {
    values_.SaveMark(marks);
    indices_.SaveMark(marks);
    marks->push_back(static_cast<int64_t>(memo_.size()));
  }
  void Rollback(internal::MarkReader* marks) {
    values_.Rollback(marks);
    indices_.Rollback(marks);
    const auto size = static_cast<size_t>(marks->Next());
    if (memo_.size() == size) return;
    for (auto it = memo_.begin(); it != memo_.end();) {
      it = it->second >= static_cast<int32_t>(size) ? memo_.erase(it) : std::next(it);
    }
    last_ = {};  // may have been erased
  }
  int64_t bytes() const { return values_.bytes() + indices_.bytes(); }
  bool ok() const { return values_.ok() && indices_.ok(); }

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

using TraceIdWriter = FixedBinaryWriter<otlp::kTraceIdSize>;
using SpanIdWriter = FixedBinaryWriter<otlp::kSpanIdSize>;
struct WireResource;
struct FieldPath;

}  // namespace internal

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

  // Calls f(writer) for every column writer, in one fixed order.
  template <typename Self, typename F>
  static void ForEachWriter(Self& self, F&& f) {
    f(self.trace_id), f(self.span_id), f(self.parent_span_id), f(self.trace_state);
    f(self.flags), f(self.name), f(self.kind), f(self.start_time_unix_nano);
    f(self.end_time_unix_nano);
    f(self.status_code), f(self.status_message), f(self.attributes);
    f(self.dropped_attributes_count), f(self.events), f(self.event_time);
    f(self.event_name), f(self.event_attributes), f(self.event_dropped);
    f(self.dropped_events_count), f(self.links), f(self.link_trace_id);
    f(self.link_span_id), f(self.link_trace_state), f(self.link_attributes);
    f(self.link_dropped), f(self.link_flags), f(self.dropped_links_count);
    f(self.service_name), f(self.resource_attributes);
    f(self.resource_dropped_attributes_count), f(self.resource_schema_url);
    f(self.scope_name), f(self.scope_version), f(self.scope_attributes);
    f(self.scope_dropped_attributes_count), f(self.scope_schema_url);
  }

  void SaveMark(internal::Marks* marks) const {
    marks->clear();
    marks->push_back(rows);
    marks->push_back(num_events);
    marks->push_back(num_links);
    ForEachWriter(*this, [&](const auto& writer) { writer.SaveMark(marks); });
  }
  void Rollback(const internal::Marks& marks) {
    internal::MarkReader reader(marks);
    rows = reader.Next();
    num_events = reader.Next();
    num_links = reader.Next();
    ForEachWriter(*this, [&](auto& writer) { writer.Rollback(&reader); });
  }
  int64_t bytes() const {
    int64_t total = 0;
    ForEachWriter(*this, [&](const auto& writer) { total += writer.bytes(); });
    return total;
  }
  // Whether the rows so far can still be finished: no allocation failed, no column
  // passed what 32-bit offsets reach.
  bool ok() const {
    bool all = num_events <= std::numeric_limits<int32_t>::max() &&
               num_links <= std::numeric_limits<int32_t>::max();
    ForEachWriter(*this, [&](const auto& writer) { all = all && writer.ok(); });
    return all;
  }

  arrow::Status AppendScopeSpans(const otlp::ResourceSpans& rs,
                                 const otlp::ScopeSpans& ss, int r, int k);
  arrow::Status AppendSpan(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendEvents(const otlp::Span& span, int r, int k, int j);
  arrow::Status AppendLinks(const otlp::Span& span, int r, int k, int j);
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  // Wire-format input (AppendOtlpProtobuf).
  arrow::Status AppendResourceSpansWire(std::string_view bytes, int r);
  arrow::Status AppendScopeSpansWire(const internal::WireResource& resource,
                                     std::string_view bytes,
                                     const internal::FieldPath& resource_spans, int k);
  arrow::Status AppendSpanWire(std::string_view bytes, const internal::FieldPath& where);
  arrow::Status AppendEventWire(std::string_view bytes, const internal::FieldPath& where);
  arrow::Status AppendLinkWire(std::string_view bytes, const internal::FieldPath& where);
  // Checks the attributes of a resource or scope that no span carries into the batch.
  static arrow::Status CheckGroupAttributes(
      internal::AttributesWriter* writer, const std::vector<std::string_view>& key_values,
      const internal::FieldPath& where);

  arrow::MemoryPool* pool;
  int64_t rows = 0;
  // Where the Append in progress started, to roll back to if it fails.
  internal::Marks append_mark;

  internal::TraceIdWriter trace_id;
  internal::SpanIdWriter span_id;
  internal::SpanIdWriter parent_span_id;
  internal::StringWriter trace_state;
  internal::FixedWriter<uint32_t> flags;
  internal::StringWriter name;
  internal::FixedWriter<int32_t> kind;
  internal::FixedWriter<uint64_t> start_time_unix_nano;
  internal::FixedWriter<uint64_t> end_time_unix_nano;
  internal::FixedWriter<int32_t> status_code;
  internal::StringWriter status_message;
  internal::AttributesWriter attributes;
  internal::FixedWriter<uint32_t> dropped_attributes_count;
  internal::OffsetsWriter events;
  int64_t num_events = 0;
  internal::FixedWriter<uint64_t> event_time;
  internal::StringWriter event_name;
  internal::AttributesWriter event_attributes;
  internal::FixedWriter<uint32_t> event_dropped;
  internal::FixedWriter<uint32_t> dropped_events_count;
  internal::OffsetsWriter links;
  int64_t num_links = 0;
  internal::TraceIdWriter link_trace_id;
  internal::SpanIdWriter link_span_id;
  internal::StringWriter link_trace_state;
  internal::AttributesWriter link_attributes;
  internal::FixedWriter<uint32_t> link_dropped;
  internal::FixedWriter<uint32_t> link_flags;
  internal::FixedWriter<uint32_t> dropped_links_count;
  internal::GroupDictionaryWriter service_name;
  internal::AttributesWriter resource_attributes;
  internal::FixedWriter<uint32_t> resource_dropped_attributes_count;
  internal::GroupDictionaryWriter resource_schema_url;
  internal::GroupDictionaryWriter scope_name;
  internal::GroupDictionaryWriter scope_version;
  internal::AttributesWriter scope_attributes;
  internal::FixedWriter<uint32_t> scope_dropped_attributes_count;
  internal::GroupDictionaryWriter scope_schema_url;
};

namespace internal {

/// \brief The way in to a SpanTableEncoder's writers.
struct SpanTableEncoderAccess {
  using Impl = SpanTableEncoder::Impl;
  static SpanTableEncoder::Impl& impl(SpanTableEncoder& encoder) {
    return *encoder.impl_;
  }
  /// \brief Starts an append that RollBack() can undo.
  static void BeginAppend(SpanTableEncoder& encoder) {
    encoder.impl_->SaveMark(&encoder.impl_->append_mark);
  }
  /// \brief Ends the append begun by BeginAppend(): rolls it back if `status` failed or
  /// a writer's allocation failed; returns the error.
  static arrow::Status EndAppend(SpanTableEncoder& encoder, arrow::Status status) {
    return encoder.RollBack(std::move(status));
  }
};

}  // namespace internal

}  // namespace otlp_arrow::convert
