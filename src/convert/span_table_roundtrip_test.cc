// SPDX-License-Identifier: Apache-2.0
// OTLP → span table → OTLP is lossless (after the documented canonical grouping).

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/util/compression.h>
#include <google/protobuf/arena.h>
#include <gtest/gtest.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "span_table_test_util.h"

namespace otlp_arrow::convert {
namespace {

using testing::Canonical;
using testing::ExpectSameOtlp;

otlp::ExportTraceServiceRequest RoundTrip(const otlp::ExportTraceServiceRequest& in) {
  auto batch = SpanTableEncoder::Encode(in);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  otlp::ExportTraceServiceRequest out;
  if (!batch.ok()) return out;
  EXPECT_TRUE((*batch)->schema()->Equals(*SpanTableSchema(), /*check_metadata=*/true));
  auto valid = (*batch)->ValidateFull();
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  EXPECT_EQ((*batch)->num_rows(), model::CountSpans(in));
  auto status = DecodeSpanTable(**batch, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

TEST(SpanTableRoundTrip, RandomSpansAreLossless) {
  // 4 × 5,000 random spans: every AnyValue kind, nested arrays and kvlists, unicode,
  // empty strings, extremes, absent optional fields, several resources and scopes.
  int64_t total = 0;
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto in = model::RandomSpans(5000, seed);
    total += model::CountSpans(in);
    ExpectSameOtlp(Canonical(in), RoundTrip(in));
  }
  EXPECT_GE(total, 10000);
}

TEST(SpanTableRoundTrip, WorkloadsAreLossless) {
  for (const char* name : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(name);
    auto in = model::MakeWorkload(name, 2500);
    ASSERT_TRUE(in.ok());
    ExpectSameOtlp(Canonical(*in), RoundTrip(*in));
  }
}

TEST(SpanTableRoundTrip, EmptyRequestGivesEmptyBatch) {
  otlp::ExportTraceServiceRequest in;
  in.add_resource_spans()->add_scope_spans();  // no spans: nothing to keep
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)->num_rows(), 0);
  otlp::ExportTraceServiceRequest out;
  ASSERT_TRUE(DecodeSpanTable(**batch, &out).ok());
  EXPECT_EQ(out.resource_spans_size(), 0);
}

TEST(SpanTableRoundTrip, AdjacentEqualResourcesAreMergedOthersKept) {
  otlp::ExportTraceServiceRequest in = model::SeedSpans(3);
  // A second ResourceSpans equal to the first, then a different one, then the first
  // again.
  *in.add_resource_spans() = in.resource_spans(0);
  auto* other = in.add_resource_spans();
  *other = in.resource_spans(0);
  auto* kv = other->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("other");
  *in.add_resource_spans() = in.resource_spans(0);
  const auto out = RoundTrip(in);
  ASSERT_EQ(out.resource_spans_size(), 3);
  EXPECT_EQ(out.resource_spans(0).scope_spans(0).spans_size(), 6);
  EXPECT_EQ(out.resource_spans(1).scope_spans(0).spans_size(), 3);
  EXPECT_EQ(out.resource_spans(2).scope_spans(0).spans_size(), 3);
  ExpectSameOtlp(Canonical(in), out);
}

TEST(SpanTableRoundTrip, ServiceNameColumnIsDerivedFromResource) {
  const auto in = model::RealisticSpans(2000);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  auto column = (*batch)->GetColumnByName(std::string(column::kServiceName));
  ASSERT_NE(column, nullptr);
  const auto& dict = static_cast<const arrow::DictionaryArray&>(*column);
  const auto& values = static_cast<const arrow::StringArray&>(*dict.dictionary());
  EXPECT_EQ(values.GetView(dict.GetValueIndex(0)), "frontend");
  EXPECT_EQ(values.GetView(dict.GetValueIndex(1999)), "checkout");
  EXPECT_EQ(values.length(), 2);  // each distinct value once per batch
}

TEST(SpanTableRoundTrip, DecodesIntoArena) {
  const auto in = model::RandomSpans(500, 9);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  google::protobuf::Arena arena;
  auto* out =
      google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  ASSERT_TRUE(DecodeSpanTable(**batch, out).ok());
  ExpectSameOtlp(Canonical(in), *out);
}

TEST(SpanTableRoundTrip, EncoderIsReusableAcrossBatches) {
  SpanTableEncoder encoder;
  for (uint64_t seed : {11, 12}) {
    const auto in = model::RandomSpans(300, seed);
    ASSERT_TRUE(encoder.Append(in).ok());
    EXPECT_EQ(encoder.num_rows(), model::CountSpans(in));
    auto batch = encoder.Finish();
    ASSERT_TRUE(batch.ok());
    EXPECT_EQ(encoder.num_rows(), 0);
    otlp::ExportTraceServiceRequest out;
    ASSERT_TRUE(DecodeSpanTable(**batch, &out).ok());
    ExpectSameOtlp(Canonical(in), out);
  }
}

TEST(SpanTableRoundTrip, SurvivesIpcStreamWithEachCodec) {
  const auto in = model::RandomSpans(2000, 5);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  for (auto codec : {arrow::Compression::UNCOMPRESSED, arrow::Compression::LZ4_FRAME,
                     arrow::Compression::ZSTD}) {
    SCOPED_TRACE(arrow::util::Codec::GetCodecAsString(codec));
    auto options = arrow::ipc::IpcWriteOptions::Defaults();
    if (codec != arrow::Compression::UNCOMPRESSED) {
      auto created = arrow::util::Codec::Create(codec);
      ASSERT_TRUE(created.ok());
      options.codec = std::move(*created);
    }
    auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
    auto writer =
        arrow::ipc::MakeStreamWriter(sink, SpanTableSchema(), options).ValueOrDie();
    ASSERT_TRUE(writer->WriteRecordBatch(**batch).ok());
    ASSERT_TRUE(writer->Close().ok());
    auto buffer = sink->Finish().ValueOrDie();
    auto reader = arrow::ipc::RecordBatchStreamReader::Open(
                      std::make_shared<arrow::io::BufferReader>(buffer))
                      .ValueOrDie();
    std::shared_ptr<arrow::RecordBatch> read;
    ASSERT_TRUE(reader->ReadNext(&read).ok());
    ASSERT_NE(read, nullptr);
    otlp::ExportTraceServiceRequest out;
    auto status = DecodeSpanTable(*read, &out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ExpectSameOtlp(Canonical(in), out);
  }
}

}  // namespace
}  // namespace otlp_arrow::convert

namespace otlp_arrow::convert {
namespace {

TEST(SpanTableToOtlpProtobuf, GivesTheBytesOfDecodeThenSerialize) {
  for (uint64_t seed : {21, 22, 23}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto in = model::RandomSpans(3000, seed);
    auto batch = SpanTableEncoder::Encode(in);
    ASSERT_TRUE(batch.ok());
    otlp::ExportTraceServiceRequest decoded;
    ASSERT_TRUE(DecodeSpanTable(**batch, &decoded).ok());
    std::string wire;
    auto status = SpanTableToOtlpProtobuf(**batch, &wire);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(wire, decoded.SerializeAsString());
    otlp::ExportTraceServiceRequest parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire));
    testing::ExpectSameOtlp(testing::Canonical(in), parsed);
  }
  for (const char* name : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(name);
    const auto in = model::MakeWorkload(name, 1500).ValueOrDie();
    auto batch = SpanTableEncoder::Encode(in).ValueOrDie();
    otlp::ExportTraceServiceRequest decoded;
    ASSERT_TRUE(DecodeSpanTable(*batch, &decoded).ok());
    std::string wire;
    ASSERT_TRUE(SpanTableToOtlpProtobuf(*batch, &wire).ok());
    EXPECT_EQ(wire, decoded.SerializeAsString());
  }
}

TEST(SpanTableToOtlpProtobuf, EmptyBatchIsAnEmptyRequest) {
  auto batch = SpanTableEncoder::Encode(otlp::ExportTraceServiceRequest()).ValueOrDie();
  std::string wire = "stale";
  ASSERT_TRUE(SpanTableToOtlpProtobuf(*batch, &wire).ok());
  EXPECT_TRUE(wire.empty());
}

}  // namespace
}  // namespace otlp_arrow::convert
