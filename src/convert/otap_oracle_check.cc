// SPDX-License-Identifier: Apache-2.0
// Conformance check against the Go consumer (otel-arrow arrow_record.Consumer):
//
//   otap_oracle_check BARS_FILE EXPECTED_FILE
//
// BARS_FILE: records of (uint32 little-endian length, serialized
// opentelemetry.proto.experimental.arrow.v1.BatchArrowRecords), all from one gRPC stream
// in order. EXPECTED_FILE: as many records of (uint32 LE length, serialized
// ExportTraceServiceRequest), the Go consumer's decode of each BAR.
//
// Each BAR is decoded with one OtapTraceStreamDecoder, appended to a fresh
// SpanTableEncoder and compared, span by span, with SpanTableEncoder::Encode(expected)
// after both are read back to OTLP. The first differences (BAR, row, field, both values)
// go to stderr; stdout gets one line {"bars":N,"spans":M,"mismatches":K} (K: the spans
// that differ, plus one per BAR that does not decode). Exit 0 only when K is 0.
//
// Not compared: the order of keys inside nested maps (`ser`), which the Go consumer
// takes through a Go map in random order. All-zero trace and span ids, which pdata
// writes as empty bytes, are read as zeros.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <arrow/record_batch.h>
#include <google/protobuf/util/message_differencer.h>

#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.pb.h"
#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"

namespace {

using otlp_arrow::convert::OtapPayload;
using otlp_arrow::convert::OtapTraceStreamDecoder;
using otlp_arrow::convert::SpanTableEncoder;
namespace otlp = otlp_arrow::otlp;
namespace arrowpb = opentelemetry::proto::experimental::arrow::v1;

bool ReadRecords(const char* path, std::vector<std::string>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  while (true) {
    unsigned char header[4];
    if (!in.read(reinterpret_cast<char*>(header), 4)) return in.eof() && in.gcount() == 0;
    const uint32_t length = header[0] | header[1] << 8 | header[2] << 16 |
                            static_cast<uint32_t>(header[3]) << 24;
    std::string record(length, '\0');
    if (!in.read(record.data(), length)) return false;
    out->push_back(std::move(record));
  }
}

void SortNestedMaps(otlp::AnyValue* value) {
  if (value->has_kvlist_value()) {
    auto* kvs = value->mutable_kvlist_value()->mutable_values();
    for (auto& kv : *kvs) SortNestedMaps(kv.mutable_value());
    std::stable_sort(kvs->begin(), kvs->end(),
                     [](const otlp::KeyValue& a, const otlp::KeyValue& b) {
                       return a.key() < b.key();
                     });
  } else if (value->has_array_value()) {
    for (auto& v : *value->mutable_array_value()->mutable_values()) SortNestedMaps(&v);
  }
}

void SortNestedMaps(google::protobuf::RepeatedPtrField<otlp::KeyValue>* kvs) {
  for (auto& kv : *kvs) SortNestedMaps(kv.mutable_value());
}

void ZeroIfEmpty(std::string* id, size_t width) {
  if (id->empty()) id->assign(width, '\0');
}

// One span with its resource and scope: a row of the span table.
struct Row {
  otlp::ResourceSpans resource;  // resource and schema_url, no scope_spans
  otlp::ScopeSpans scope;        // scope and schema_url, no spans
  otlp::Span span;
};

std::vector<Row> Rows(otlp::ExportTraceServiceRequest request) {
  std::vector<Row> rows;
  for (auto& rs : *request.mutable_resource_spans()) {
    SortNestedMaps(rs.mutable_resource()->mutable_attributes());
    for (auto& ss : *rs.mutable_scope_spans()) {
      SortNestedMaps(ss.mutable_scope()->mutable_attributes());
      for (auto& span : *ss.mutable_spans()) {
        SortNestedMaps(span.mutable_attributes());
        for (auto& e : *span.mutable_events()) SortNestedMaps(e.mutable_attributes());
        for (auto& l : *span.mutable_links()) SortNestedMaps(l.mutable_attributes());
        Row row;
        *row.resource.mutable_resource() = rs.resource();
        row.resource.set_schema_url(rs.schema_url());
        *row.scope.mutable_scope() = ss.scope();
        row.scope.set_schema_url(ss.schema_url());
        row.span = std::move(span);
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

// The first field-level difference between two messages, or "" when equal bit for bit.
std::string Difference(const google::protobuf::Message& expected,
                       const google::protobuf::Message& actual) {
  if (otlp::DeterministicBytes(expected) == otlp::DeterministicBytes(actual)) return "";
  std::string report;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&report);
  if (differ.Compare(expected, actual)) {
    return "equal fields, different bytes (a NaN payload or -0.0)";
  }
  const auto newline = report.find('\n');
  return newline == std::string::npos ? report : report.substr(0, newline);
}

arrow::Result<otlp::ExportTraceServiceRequest> ThroughSpanTable(
    const otlp::ExportTraceServiceRequest& request) {
  ARROW_ASSIGN_OR_RAISE(auto batch, SpanTableEncoder::Encode(request));
  otlp::ExportTraceServiceRequest out;
  if (batch->num_rows() > 0) {
    ARROW_RETURN_NOT_OK(otlp_arrow::convert::DecodeSpanTable(*batch, &out));
  }
  return out;
}

int Run(const char* bars_path, const char* expected_path) {
  std::vector<std::string> bars, expected;
  if (!ReadRecords(bars_path, &bars)) {
    std::cerr << "cannot read " << bars_path << "\n";
    return 2;
  }
  if (!ReadRecords(expected_path, &expected)) {
    std::cerr << "cannot read " << expected_path << "\n";
    return 2;
  }
  if (bars.size() != expected.size()) {
    std::cerr << bars.size() << " BARs but " << expected.size() << " expected requests\n";
    return 2;
  }
  auto decoder = OtapTraceStreamDecoder::Make().ValueOrDie();
  int64_t spans = 0, mismatches = 0, reported = 0;
  auto report = [&](const std::string& line) {
    if (reported++ < 20) std::cerr << line << "\n";
  };
  for (size_t b = 0; b < bars.size(); ++b) {
    const std::string where = "BAR " + std::to_string(b);
    arrowpb::BatchArrowRecords bar;
    otlp::ExportTraceServiceRequest request;
    if (!bar.ParseFromString(bars[b]) || !request.ParseFromString(expected[b])) {
      report(where + ": not a BatchArrowRecords / ExportTraceServiceRequest");
      ++mismatches;
      continue;
    }
    std::vector<OtapPayload> payloads;
    for (const auto& p : bar.arrow_payloads()) {
      payloads.push_back({p.schema_id(), static_cast<int32_t>(p.type()), p.record()});
    }
    auto traces = decoder->Decode(payloads);
    otlp::ExportTraceServiceRequest actual;
    if (traces.ok()) {
      SpanTableEncoder encoder;
      auto status = (*traces)->AppendTo(&encoder);
      auto batch = status.ok() ? encoder.Finish() : status;
      if (batch.ok() && (*batch)->num_rows() > 0) {
        status = otlp_arrow::convert::DecodeSpanTable(**batch, &actual);
      } else {
        status = batch.status();
      }
      if (!status.ok()) traces = status;
    }
    if (!traces.ok()) {
      report(where + ": " + traces.status().ToString());
      ++mismatches;
      continue;
    }
    for (auto& rs : *request.mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        for (auto& span : *ss.mutable_spans()) {
          ZeroIfEmpty(span.mutable_trace_id(), otlp::kTraceIdSize);
          ZeroIfEmpty(span.mutable_span_id(), otlp::kSpanIdSize);
          for (auto& link : *span.mutable_links()) {
            ZeroIfEmpty(link.mutable_trace_id(), otlp::kTraceIdSize);
            ZeroIfEmpty(link.mutable_span_id(), otlp::kSpanIdSize);
          }
        }
      }
    }
    auto wanted = ThroughSpanTable(request);
    if (!wanted.ok()) {
      report(where +
             ": the expected request does not encode: " + wanted.status().ToString());
      ++mismatches;
      continue;
    }
    const auto want_rows = Rows(*wanted);
    const auto got_rows = Rows(actual);
    spans += static_cast<int64_t>(got_rows.size());
    if (want_rows.size() != got_rows.size()) {
      report(where + ": " + std::to_string(got_rows.size()) + " spans, expected " +
             std::to_string(want_rows.size()));
    }
    const size_t n = std::max(want_rows.size(), got_rows.size());
    for (size_t r = 0; r < n; ++r) {
      std::string diff;
      if (r >= want_rows.size() || r >= got_rows.size()) {
        diff = "missing on one side";
      } else {
        const Row& w = want_rows[r];
        const Row& g = got_rows[r];
        diff = Difference(w.span, g.span);
        if (diff.empty()) diff = Difference(w.resource, g.resource);
        if (diff.empty()) diff = Difference(w.scope, g.scope);
      }
      if (!diff.empty()) {
        ++mismatches;
        report(where + " row " + std::to_string(r) + ": " + diff);
      }
    }
  }
  std::cout << "{\"bars\":" << bars.size() << ",\"spans\":" << spans
            << ",\"mismatches\":" << mismatches << "}" << std::endl;
  return mismatches == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: otap_oracle_check BARS_FILE EXPECTED_FILE\n";
    return 2;
  }
  return Run(argv[1], argv[2]);
}
