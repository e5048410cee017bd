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
