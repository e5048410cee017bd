// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/convert/span_table_decoder.h"

#include <string>
#include <string_view>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_schema.h"

namespace otlp_arrow::convert {

namespace {

using arrow::internal::checked_cast;
using internal::AttributesColumn;
using internal::StringColumn;

constexpr int kMaxSpanKind = 5;
constexpr int kMaxStatusCode = 2;

arrow::Status CheckNoNulls(const arrow::Array& array, const std::string& path,
                           std::string_view row_label) {
  if (array.null_count() == 0) return arrow::Status::OK();
  for (int64_t i = 0; i < array.length(); ++i) {
    if (array.IsNull(i)) {
      return arrow::Status::Invalid("column '", path, "' ", row_label, " ", i,
                                    ": null in a required column");
    }
  }
  return arrow::Status::OK();
}

/// Every column of a span table, bound to its typed array and validated.
struct SpanTableColumns {
  const arrow::FixedSizeBinaryArray* trace_id;
  const arrow::FixedSizeBinaryArray* span_id;
  const arrow::FixedSizeBinaryArray* parent_span_id;
  StringColumn trace_state;
  const arrow::UInt32Array* flags;
  StringColumn name;
  const arrow::Int32Array* kind;
  const arrow::UInt64Array* start_time_unix_nano;
  const arrow::UInt64Array* end_time_unix_nano;
  const arrow::Int32Array* status_code;
  StringColumn status_message;
  AttributesColumn attributes;
  const arrow::UInt32Array* dropped_attributes_count;
  const arrow::ListArray* events;
  const arrow::UInt64Array* event_time;
  const arrow::StringArray* event_name;
  AttributesColumn event_attributes;
  const arrow::UInt32Array* event_dropped;
  const arrow::UInt32Array* dropped_events_count;
  const arrow::ListArray* links;
  const arrow::FixedSizeBinaryArray* link_trace_id;
  const arrow::FixedSizeBinaryArray* link_span_id;
  const arrow::StringArray* link_trace_state;
  AttributesColumn link_attributes;
  const arrow::UInt32Array* link_dropped;
  const arrow::UInt32Array* link_flags;
  const arrow::UInt32Array* dropped_links_count;
  AttributesColumn resource_attributes;
  const arrow::UInt32Array* resource_dropped;
  StringColumn resource_schema_url;
  StringColumn scope_name;
  StringColumn scope_version;
  AttributesColumn scope_attributes;
  const arrow::UInt32Array* scope_dropped;
  StringColumn scope_schema_url;

  arrow::Status Bind(const arrow::RecordBatch& batch);

  bool SameResource(int64_t a, int64_t b) const {
    return resource_dropped->Value(a) == resource_dropped->Value(b) &&
           resource_schema_url.Equal(a, b) && resource_attributes.SlotsEqual(a, b);
  }
  bool SameScope(int64_t a, int64_t b) const {
    return scope_dropped->Value(a) == scope_dropped->Value(b) && scope_name.Equal(a, b) &&
           scope_version.Equal(a, b) && scope_schema_url.Equal(a, b) &&
           scope_attributes.SlotsEqual(a, b);
  }
};

/// Finds a column by name and checks its type against the span table schema.
arrow::Result<std::shared_ptr<arrow::Array>> Column(const arrow::RecordBatch& batch,
                                                    std::string_view name,
                                                    bool check_type = true) {
  const std::string key(name);
  const auto& schema = *batch.schema();
  const auto indices = schema.GetAllFieldIndices(key);
  if (indices.empty()) return arrow::Status::Invalid("missing column '", key, "'");
  if (indices.size() > 1) return arrow::Status::Invalid("duplicate column '", key, "'");
  auto array = batch.column(indices[0]);
  if (check_type) {
    const auto& expected = SpanTableSchema()->GetFieldByName(key);
    ARROW_RETURN_NOT_OK(CheckSpanTableType(*array->type(), *expected->type(), key));
  }
  return array;
}

template <typename ArrayType>
arrow::Result<const ArrayType*> RequiredColumn(const arrow::RecordBatch& batch,
                                               std::string_view name) {
  ARROW_ASSIGN_OR_RAISE(auto array, Column(batch, name));
  ARROW_RETURN_NOT_OK(CheckNoNulls(*array, std::string(name), "row"));
  // The RecordBatch keeps the array alive for as long as the bound view is used.
  return checked_cast<const ArrayType*>(array.get());
}

arrow::Status BindStringColumn(const arrow::RecordBatch& batch, std::string_view name,
                               bool required, StringColumn* out) {
  ARROW_ASSIGN_OR_RAISE(auto array, Column(batch, name, /*check_type=*/false));
  ARROW_RETURN_NOT_OK(out->Bind(array, std::string(name)));
  if (required) ARROW_RETURN_NOT_OK(CheckNoNulls(*array, std::string(name), "row"));
  return arrow::Status::OK();
}

arrow::Status BindAttributes(const arrow::RecordBatch& batch, std::string_view name,
                             AttributesColumn* out) {
  ARROW_ASSIGN_OR_RAISE(auto array, Column(batch, name));
  return out->Bind(array, std::string(name), "row");
}

template <typename ArrayType>
const ArrayType* Child(const arrow::StructArray& parent, int i) {
  return checked_cast<const ArrayType*>(parent.field(i).get());
}

template <typename ArrayType>
arrow::Status Enum(const ArrayType& array, std::string_view name, int max,
                   std::string_view what) {
  for (int64_t i = 0; i < array.length(); ++i) {
    const auto v = array.Value(i);
    if (v < 0 || v > max) {
      return arrow::Status::Invalid("column '", name, "' row ", i, ": ", v, " is not a ",
                                    what, " (0..", max, ")");
    }
  }
  return arrow::Status::OK();
}

// The derived columns are optional; present, they have no nulls, and `start_time` is
// `start_time_unix_nano` / 1000: a store files a span in the hour folder of its
// `start_time` and prunes files and row groups by the nanoseconds, so the two must agree.
arrow::Status CheckDerivedTimeColumns(const arrow::RecordBatch& batch,
                                      const arrow::UInt64Array& start_time_unix_nano) {
  for (const std::string_view name : {column::kStartTime, column::kDurationNs}) {
    if (batch.schema()->GetAllFieldIndices(std::string(name)).empty()) continue;
    ARROW_ASSIGN_OR_RAISE(auto array, Column(batch, name));
    ARROW_RETURN_NOT_OK(CheckNoNulls(*array, std::string(name), "row"));
    if (name != column::kStartTime) continue;
    const auto& micros = checked_cast<const arrow::TimestampArray&>(*array);
    for (int64_t row = 0; row < micros.length(); ++row) {
      if (static_cast<uint64_t>(micros.Value(row)) !=
          start_time_unix_nano.Value(row) / 1000) {
        return arrow::Status::Invalid("column '", name, "' row ", row, ": ",
                                      micros.Value(row), " is not '",
                                      column::kStartTimeUnixNano, "' / 1000 (",
                                      start_time_unix_nano.Value(row) / 1000, ")");
      }
    }
  }
  return arrow::Status::OK();
}

arrow::Status SpanTableColumns::Bind(const arrow::RecordBatch& batch) {
  namespace c = column;
  // Offsets, dictionary indices, UTF-8 and lengths first: the batch may come off the
  // network.
  for (int i = 0; i < batch.num_columns(); ++i) {
    const auto& array = *batch.column(i);
    if (array.length() != batch.num_rows()) {
      return arrow::Status::Invalid("column '", batch.schema()->field(i)->name(),
                                    "': ", array.length(), " rows, the batch has ",
                                    batch.num_rows());
    }
    auto status = array.ValidateFull();
    if (!status.ok()) {
      return arrow::Status::Invalid("column '", batch.schema()->field(i)->name(),
                                    "': ", status.message());
    }
  }

  ARROW_ASSIGN_OR_RAISE(trace_id,
                        RequiredColumn<arrow::FixedSizeBinaryArray>(batch, c::kTraceId));
  ARROW_ASSIGN_OR_RAISE(span_id,
                        RequiredColumn<arrow::FixedSizeBinaryArray>(batch, c::kSpanId));
  ARROW_ASSIGN_OR_RAISE(auto parent, Column(batch, c::kParentSpanId));
  parent_span_id = checked_cast<const arrow::FixedSizeBinaryArray*>(parent.get());
  ARROW_RETURN_NOT_OK(BindStringColumn(batch, c::kTraceState, false, &trace_state));
  ARROW_ASSIGN_OR_RAISE(flags, RequiredColumn<arrow::UInt32Array>(batch, c::kFlags));
  ARROW_RETURN_NOT_OK(BindStringColumn(batch, c::kName, true, &name));
  ARROW_ASSIGN_OR_RAISE(kind, RequiredColumn<arrow::Int32Array>(batch, c::kKind));
  ARROW_RETURN_NOT_OK(Enum(*kind, c::kKind, kMaxSpanKind, "SpanKind"));
  ARROW_ASSIGN_OR_RAISE(start_time_unix_nano,
                        RequiredColumn<arrow::UInt64Array>(batch, c::kStartTimeUnixNano));
  ARROW_ASSIGN_OR_RAISE(end_time_unix_nano,
                        RequiredColumn<arrow::UInt64Array>(batch, c::kEndTimeUnixNano));
  ARROW_ASSIGN_OR_RAISE(status_code,
                        RequiredColumn<arrow::Int32Array>(batch, c::kStatusCode));
  ARROW_RETURN_NOT_OK(Enum(*status_code, c::kStatusCode, kMaxStatusCode, "StatusCode"));
  ARROW_RETURN_NOT_OK(BindStringColumn(batch, c::kStatusMessage, false, &status_message));
  ARROW_RETURN_NOT_OK(BindAttributes(batch, c::kAttributes, &attributes));
  ARROW_ASSIGN_OR_RAISE(dropped_attributes_count, RequiredColumn<arrow::UInt32Array>(
                                                      batch, c::kDroppedAttributesCount));

  // events: list<struct<time_unix_nano, name, attributes, dropped_attributes_count>>
  ARROW_ASSIGN_OR_RAISE(events, RequiredColumn<arrow::ListArray>(batch, c::kEvents));
  {
    const auto& event = checked_cast<const arrow::StructArray&>(*events->values());
    ARROW_RETURN_NOT_OK(CheckNoNulls(event, "events", "event"));
    event_time = Child<arrow::UInt64Array>(event, 0);
    event_name = Child<arrow::StringArray>(event, 1);
    event_dropped = Child<arrow::UInt32Array>(event, 3);
    ARROW_RETURN_NOT_OK(CheckNoNulls(*event_time, "events.time_unix_nano", "event"));
    ARROW_RETURN_NOT_OK(CheckNoNulls(*event_name, "events.name", "event"));
    ARROW_RETURN_NOT_OK(
        CheckNoNulls(*event_dropped, "events.dropped_attributes_count", "event"));
    ARROW_RETURN_NOT_OK(
        event_attributes.Bind(event.field(2), "events.attributes", "event"));
  }
  ARROW_ASSIGN_OR_RAISE(dropped_events_count, RequiredColumn<arrow::UInt32Array>(
                                                  batch, c::kDroppedEventsCount));

  // links: list<struct<trace_id, span_id, trace_state, attributes, dropped, flags>>
  ARROW_ASSIGN_OR_RAISE(links, RequiredColumn<arrow::ListArray>(batch, c::kLinks));
  {
    const auto& link = checked_cast<const arrow::StructArray&>(*links->values());
    ARROW_RETURN_NOT_OK(CheckNoNulls(link, "links", "link"));
    link_trace_id = Child<arrow::FixedSizeBinaryArray>(link, 0);
    link_span_id = Child<arrow::FixedSizeBinaryArray>(link, 1);
    link_trace_state = Child<arrow::StringArray>(link, 2);
    link_dropped = Child<arrow::UInt32Array>(link, 4);
    link_flags = Child<arrow::UInt32Array>(link, 5);
    ARROW_RETURN_NOT_OK(CheckNoNulls(*link_trace_id, "links.trace_id", "link"));
    ARROW_RETURN_NOT_OK(CheckNoNulls(*link_span_id, "links.span_id", "link"));
    ARROW_RETURN_NOT_OK(
        CheckNoNulls(*link_dropped, "links.dropped_attributes_count", "link"));
    ARROW_RETURN_NOT_OK(CheckNoNulls(*link_flags, "links.flags", "link"));
    ARROW_RETURN_NOT_OK(link_attributes.Bind(link.field(3), "links.attributes", "link"));
  }
  ARROW_ASSIGN_OR_RAISE(dropped_links_count,
                        RequiredColumn<arrow::UInt32Array>(batch, c::kDroppedLinksCount));

  ARROW_RETURN_NOT_OK(
      BindAttributes(batch, c::kResourceAttributes, &resource_attributes));
  ARROW_ASSIGN_OR_RAISE(resource_dropped, RequiredColumn<arrow::UInt32Array>(
                                              batch, c::kResourceDroppedAttributesCount));
  ARROW_RETURN_NOT_OK(
      BindStringColumn(batch, c::kResourceSchemaUrl, false, &resource_schema_url));
  ARROW_RETURN_NOT_OK(BindStringColumn(batch, c::kScopeName, false, &scope_name));
  ARROW_RETURN_NOT_OK(BindStringColumn(batch, c::kScopeVersion, false, &scope_version));
  ARROW_RETURN_NOT_OK(BindAttributes(batch, c::kScopeAttributes, &scope_attributes));
  ARROW_ASSIGN_OR_RAISE(scope_dropped, RequiredColumn<arrow::UInt32Array>(
                                           batch, c::kScopeDroppedAttributesCount));
  ARROW_RETURN_NOT_OK(
      BindStringColumn(batch, c::kScopeSchemaUrl, false, &scope_schema_url));
  return CheckDerivedTimeColumns(batch, *start_time_unix_nano);
}

void SetId(const arrow::FixedSizeBinaryArray& ids, int64_t i, std::string* out) {
  out->assign(reinterpret_cast<const char*>(ids.GetValue(i)), ids.byte_width());
}

// Strings are assigned into mutable_x(), not passed to set_x(p, n): protobuf 3.21's
// set_x(p, n) builds a temporary std::string and copies it, two heap allocations for a
// string past 15 bytes where the parser makes one.
template <typename MutableField>
void SetString(std::string_view value, MutableField&& field) {
  if (!value.empty()) field()->assign(value.data(), value.size());
}

arrow::Status DecodeSpan(const SpanTableColumns& c, int64_t i, otlp::Span* span) {
  SetId(*c.trace_id, i, span->mutable_trace_id());
  SetId(*c.span_id, i, span->mutable_span_id());
  if (c.parent_span_id->IsValid(i))
    SetId(*c.parent_span_id, i, span->mutable_parent_span_id());
  SetString(c.trace_state.View(i), [&] { return span->mutable_trace_state(); });
  span->set_flags(c.flags->Value(i));
  SetString(c.name.View(i), [&] { return span->mutable_name(); });
  span->set_kind(static_cast<otlp::Span::SpanKind>(c.kind->Value(i)));
  span->set_start_time_unix_nano(c.start_time_unix_nano->Value(i));
  span->set_end_time_unix_nano(c.end_time_unix_nano->Value(i));
  ARROW_RETURN_NOT_OK(c.attributes.Decode(i, span->mutable_attributes()));
  span->set_dropped_attributes_count(c.dropped_attributes_count->Value(i));

  const int64_t events_begin = c.events->value_offset(i);
  const int64_t events_end = c.events->value_offset(i + 1);
  if (events_end > events_begin) {
    span->mutable_events()->Reserve(static_cast<int>(events_end - events_begin));
  }
  for (int64_t e = events_begin; e < events_end; ++e) {
    otlp::Span::Event* event = span->add_events();
    event->set_time_unix_nano(c.event_time->Value(e));
    SetString(c.event_name->GetView(e), [&] { return event->mutable_name(); });
    ARROW_RETURN_NOT_OK(c.event_attributes.Decode(e, event->mutable_attributes()));
    event->set_dropped_attributes_count(c.event_dropped->Value(e));
  }
  span->set_dropped_events_count(c.dropped_events_count->Value(i));

  const int64_t links_begin = c.links->value_offset(i);
  const int64_t links_end = c.links->value_offset(i + 1);
  for (int64_t l = links_begin; l < links_end; ++l) {
    otlp::Span::Link* link = span->add_links();
    SetId(*c.link_trace_id, l, link->mutable_trace_id());
    SetId(*c.link_span_id, l, link->mutable_span_id());
    if (c.link_trace_state->IsValid(l)) {
      SetString(c.link_trace_state->GetView(l),
                [&] { return link->mutable_trace_state(); });
    }
    ARROW_RETURN_NOT_OK(c.link_attributes.Decode(l, link->mutable_attributes()));
    link->set_dropped_attributes_count(c.link_dropped->Value(l));
    link->set_flags(c.link_flags->Value(l));
  }
  span->set_dropped_links_count(c.dropped_links_count->Value(i));

  otlp::Status* status = span->mutable_status();
  status->set_code(static_cast<otlp::Status::StatusCode>(c.status_code->Value(i)));
  SetString(c.status_message.View(i), [&] { return status->mutable_message(); });
  return arrow::Status::OK();
}

}  // namespace

arrow::Status ValidateSpanTable(const arrow::RecordBatch& batch) {
  SpanTableColumns columns;
  return columns.Bind(batch);
}

arrow::Status DecodeSpanTable(const arrow::RecordBatch& batch,
                              otlp::ExportTraceServiceRequest* out) {
  SpanTableColumns c;
  ARROW_RETURN_NOT_OK(c.Bind(batch));
  const int64_t n = batch.num_rows();
  otlp::ResourceSpans* rs = nullptr;
  otlp::ScopeSpans* ss = nullptr;
  int64_t group_start = 0;  // first row of the current scope group
  for (int64_t i = 0; i < n; ++i) {
    const bool new_resource = rs == nullptr || !c.SameResource(group_start, i);
    if (new_resource) {
      rs = out->add_resource_spans();
      otlp::Resource* resource = rs->mutable_resource();
      ARROW_RETURN_NOT_OK(
          c.resource_attributes.Decode(i, resource->mutable_attributes()));
      resource->set_dropped_attributes_count(c.resource_dropped->Value(i));
      SetString(c.resource_schema_url.View(i), [&] { return rs->mutable_schema_url(); });
    }
    if (new_resource || !c.SameScope(group_start, i)) {
      ss = rs->add_scope_spans();
      otlp::InstrumentationScope* scope = ss->mutable_scope();
      SetString(c.scope_name.View(i), [&] { return scope->mutable_name(); });
      SetString(c.scope_version.View(i), [&] { return scope->mutable_version(); });
      ARROW_RETURN_NOT_OK(c.scope_attributes.Decode(i, scope->mutable_attributes()));
      scope->set_dropped_attributes_count(c.scope_dropped->Value(i));
      SetString(c.scope_schema_url.View(i), [&] { return ss->mutable_schema_url(); });
      group_start = i;
    }
    ARROW_RETURN_NOT_OK(DecodeSpan(c, i, ss->add_spans()));
  }
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::convert
