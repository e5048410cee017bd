// SPDX-License-Identifier: Apache-2.0
// The canonical OTLP form the span table gives back (docs/span-table.md).

#include "otlp_arrow/convert/span_table_decoder.h"

namespace otlp_arrow::convert {
namespace {

void MakeValuesPresent(google::protobuf::RepeatedPtrField<otlp::KeyValue>* kvs) {
  for (auto& kv : *kvs) kv.mutable_value();
}

}  // namespace

otlp::ExportTraceServiceRequest CanonicalSpanTableForm(
    const otlp::ExportTraceServiceRequest& request) {
  otlp::ExportTraceServiceRequest out;
  for (const auto& rs_in : request.resource_spans()) {
    for (const auto& ss_in : rs_in.scope_spans()) {
      if (ss_in.spans_size() == 0) continue;
      otlp::Resource resource = rs_in.resource();
      MakeValuesPresent(resource.mutable_attributes());
      otlp::InstrumentationScope scope = ss_in.scope();
      MakeValuesPresent(scope.mutable_attributes());
      // Equal serialized bytes (deterministic) mean equal messages, so merging compares
      // bytes: the decoder merges rows whose resource and scope columns are equal.
      otlp::ResourceSpans* rs = nullptr;
      if (out.resource_spans_size() > 0) {
        auto* last = out.mutable_resource_spans(out.resource_spans_size() - 1);
        if (otlp::DeterministicBytes(last->resource()) ==
                otlp::DeterministicBytes(resource) &&
            last->schema_url() == rs_in.schema_url()) {
          rs = last;
        }
      }
      if (rs == nullptr) {
        rs = out.add_resource_spans();
        *rs->mutable_resource() = resource;
        rs->set_schema_url(rs_in.schema_url());
      }
      otlp::ScopeSpans* ss = nullptr;
      if (rs->scope_spans_size() > 0) {
        auto* last = rs->mutable_scope_spans(rs->scope_spans_size() - 1);
        if (otlp::DeterministicBytes(last->scope()) == otlp::DeterministicBytes(scope) &&
            last->schema_url() == ss_in.schema_url()) {
          ss = last;
        }
      }
      if (ss == nullptr) {
        ss = rs->add_scope_spans();
        *ss->mutable_scope() = scope;
        ss->set_schema_url(ss_in.schema_url());
      }
      for (const auto& span_in : ss_in.spans()) {
        auto* span = ss->add_spans();
        *span = span_in;
        span->mutable_status();
        MakeValuesPresent(span->mutable_attributes());
        for (auto& e : *span->mutable_events()) MakeValuesPresent(e.mutable_attributes());
        for (auto& l : *span->mutable_links()) MakeValuesPresent(l.mutable_attributes());
      }
    }
  }
  return out;
}

}  // namespace otlp_arrow::convert
