// SPDX-License-Identifier: Apache-2.0
// OTAP traces → span table: payloads made in the Go producer's layout, decoded, and
// compared with what the Go consumer rebuilds.

#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otap_test_producer.h"
#include "otap_test_util.h"
#include "otlp_arrow/model/workloads.h"
#include "span_table_test_util.h"

namespace otlp_arrow::convert {
namespace {

using testing::GoConsumerForm;
using testing::OtapBar;
using testing::OtapTestProducer;

// The spans of `request` from `first`, `count` of them, as one request.
otlp::ExportTraceServiceRequest Slice(const otlp::ExportTraceServiceRequest& request,
                                      int64_t first, int64_t count) {
  otlp::ExportTraceServiceRequest out;
  int64_t i = 0;
  for (const auto& rs : request.resource_spans()) {
    otlp::ResourceSpans* out_rs = nullptr;
    for (const auto& ss : rs.scope_spans()) {
      otlp::ScopeSpans* out_ss = nullptr;
      for (const auto& span : ss.spans()) {
        if (i >= first && i < first + count) {
          if (out_rs == nullptr) {
            out_rs = out.add_resource_spans();
            *out_rs->mutable_resource() = rs.resource();
            out_rs->set_schema_url(rs.schema_url());
          }
          if (out_ss == nullptr) {
            out_ss = out_rs->add_scope_spans();
            *out_ss->mutable_scope() = ss.scope();
            out_ss->set_schema_url(ss.schema_url());
          }
          *out_ss->add_spans() = span;
        }
        ++i;
      }
    }
  }
  return out;
}

void ExpectDecodes(OtapTraceStreamDecoder* decoder, const OtapBar& bar,
                   const otlp::ExportTraceServiceRequest& request) {
  auto traces = decoder->Decode(bar.Views());
  ASSERT_TRUE(traces.ok()) << traces.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto actual, testing::ToOtlp(**traces));
  testing::ExpectSameOtlp(GoConsumerForm(request), actual);
}

void RoundTripRandom(arrow::Compression::type compression) {
  const auto request = model::RandomSpans(1500, 7);
  testing::OtapProducerOptions options;
  options.compression = compression;
  OtapTestProducer producer(options);
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  for (int64_t first = 0; first < 1500; first += 300) {
    const auto part = Slice(request, first, 300);
    ExpectDecodes(decoder.get(), producer.Produce(part), part);
  }
}

TEST(OtapTraces, RandomSpansZstd) { RoundTripRandom(arrow::Compression::ZSTD); }
TEST(OtapTraces, RandomSpansLz4) { RoundTripRandom(arrow::Compression::LZ4_FRAME); }
TEST(OtapTraces, RandomSpansUncompressed) {
  RoundTripRandom(arrow::Compression::UNCOMPRESSED);
}

}  // namespace
}  // namespace otlp_arrow::convert
