// SPDX-License-Identifier: Apache-2.0
// Helpers for the OTAP decoder's tests: what the Go consumer gives back for an OTLP
// request, and OTAP → span table → OTLP.

#pragma once

#include <cstring>
#include <string>
#include <unordered_map>

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::testing {

/// \brief pcommon's Map.PutEmpty over a list: a repeated key keeps its first position
/// and takes its last value (also inside nested kvlists).
inline void CollapseDuplicateKeys(
    google::protobuf::RepeatedPtrField<otlp::KeyValue>* kvs);

inline void CollapseNested(otlp::AnyValue* value) {
  if (value->has_kvlist_value()) {
    CollapseDuplicateKeys(value->mutable_kvlist_value()->mutable_values());
  } else if (value->has_array_value()) {
    for (auto& v : *value->mutable_array_value()->mutable_values()) CollapseNested(&v);
  }
}

inline void CollapseDuplicateKeys(
    google::protobuf::RepeatedPtrField<otlp::KeyValue>* kvs) {
  google::protobuf::RepeatedPtrField<otlp::KeyValue> out;
  std::unordered_map<std::string, int> position;
  for (auto& kv : *kvs) {
    CollapseNested(kv.mutable_value());
    auto [it, inserted] = position.try_emplace(kv.key(), out.size());
    if (inserted) {
      *out.Add() = kv;
    } else {
      *out.Mutable(it->second)->mutable_value() = kv.value();
    }
  }
  kvs->Swap(&out);
}

/// \brief What the Go consumer rebuilds from OTAP made of `request` without Go's
/// producer-side reordering: duplicate keys collapsed, all-zero parent span ids empty.
inline otlp::ExportTraceServiceRequest GoConsumerForm(otlp::ExportTraceServiceRequest r) {
  for (auto& rs : *r.mutable_resource_spans()) {
    CollapseDuplicateKeys(rs.mutable_resource()->mutable_attributes());
    for (auto& ss : *rs.mutable_scope_spans()) {
      CollapseDuplicateKeys(ss.mutable_scope()->mutable_attributes());
      for (auto& span : *ss.mutable_spans()) {
        CollapseDuplicateKeys(span.mutable_attributes());
        if (span.parent_span_id() == std::string(8, '\0')) span.clear_parent_span_id();
        for (auto& e : *span.mutable_events())
          CollapseDuplicateKeys(e.mutable_attributes());
        for (auto& l : *span.mutable_links())
          CollapseDuplicateKeys(l.mutable_attributes());
      }
    }
  }
  return convert::CanonicalSpanTableForm(r);
}

/// \brief The span table of `traces` (AppendTo a fresh encoder, Finish).
inline arrow::Result<std::shared_ptr<arrow::RecordBatch>> ToSpanTable(
    const convert::OtapTraces& traces) {
  convert::SpanTableEncoder encoder;
  ARROW_RETURN_NOT_OK(traces.AppendTo(&encoder));
  return encoder.Finish();
}

/// \brief OTAP → span table → OTLP.
inline arrow::Result<otlp::ExportTraceServiceRequest> ToOtlp(
    const convert::OtapTraces& traces) {
  ARROW_ASSIGN_OR_RAISE(auto batch, ToSpanTable(traces));
  otlp::ExportTraceServiceRequest out;
  if (batch->num_rows() > 0) ARROW_RETURN_NOT_OK(convert::DecodeSpanTable(*batch, &out));
  return out;
}

}  // namespace otlp_arrow::testing

#include <arrow/builder.h>
#include <arrow/json/from_string.h>

#include "otap_test_producer.h"

namespace otlp_arrow::testing {

using Columns = std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>>;

/// \brief An array from JSON (arrow::json::ArrayFromJSONString).
inline std::shared_ptr<arrow::Array> J(const std::shared_ptr<arrow::DataType>& type,
                                       std::string_view json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

/// \brief A dictionary array: index type, value type, indices and values as JSON.
inline std::shared_ptr<arrow::Array> Dict(const std::shared_ptr<arrow::DataType>& index,
                                          const std::shared_ptr<arrow::DataType>& value,
                                          std::string_view indices,
                                          std::string_view dictionary) {
  return arrow::json::DictArrayFromJSONString(arrow::dictionary(index, value), indices,
                                              dictionary)
      .ValueOrDie();
}

inline std::shared_ptr<arrow::Array> Doubles(const std::vector<double>& values) {
  arrow::DoubleBuilder builder;
  (void)builder.AppendValues(values);
  return builder.Finish().ValueOrDie();
}

inline std::shared_ptr<arrow::Array> Binaries(const std::vector<std::string>& values) {
  arrow::BinaryBuilder builder;
  for (const auto& v : values) (void)builder.Append(v);
  return builder.Finish().ValueOrDie();
}

inline std::shared_ptr<arrow::Array> Struct(const Columns& children) {
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (const auto& [name, array] : children) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
  }
  return arrow::StructArray::Make(arrays, fields).ValueOrDie();
}

inline std::shared_ptr<arrow::RecordBatch> Batch(const Columns& columns) {
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  int64_t rows = 0;
  for (const auto& [name, array] : columns) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
    rows = array->length();
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), rows, arrays);
}

/// \brief One payload holding a whole IPC stream: Schema, dictionaries, the batch.
inline OtapBar::Payload WholePayload(
    std::string schema_id, convert::OtapPayloadType type, const arrow::RecordBatch& batch,
    arrow::Compression::type compression = arrow::Compression::UNCOMPRESSED) {
  PayloadStream stream;
  int counter = 0;
  OtapBar::Payload payload;
  payload.type = static_cast<int32_t>(type);
  std::string ignored;
  payload.record = stream.Write(batch, &counter, compression, &ignored);
  payload.schema_id = std::move(schema_id);
  return payload;
}

/// \brief `n` spans' ids: trace ids "trace-000000000k", span ids "span000k".
inline Columns SpanIds(int n) {
  std::string traces = "[", spans = "[";
  for (int i = 0; i < n; ++i) {
    char t[32], s[16];
    std::snprintf(t, sizeof t, "trace-%010d", i);
    std::snprintf(s, sizeof s, "span%04d", i);
    traces += std::string(i ? "," : "") + "\"" + t + "\"";
    spans += std::string(i ? "," : "") + "\"" + s + "\"";
  }
  return {{"trace_id", J(arrow::fixed_size_binary(16), traces + "]")},
          {"span_id", J(arrow::fixed_size_binary(8), spans + "]")}};
}

/// \brief The OTLP span SpanIds() describes at `i`.
inline otlp::Span IdSpan(int i) {
  otlp::Span span;
  char t[32], s[16];
  std::snprintf(t, sizeof t, "trace-%010d", i);
  std::snprintf(s, sizeof s, "span%04d", i);
  span.set_trace_id(t);
  span.set_span_id(s);
  return span;
}

}  // namespace otlp_arrow::testing
