// SPDX-License-Identifier: Apache-2.0
// OtlpTraceIngest: OTLP protobuf and JSON requests into the export queue.

#include "otlp_arrow/pipeline/otlp_trace_ingest.h"

#include <future>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "otlp_arrow/model/otlp_json.h"
#include "pipeline_test_util.h"

namespace otlp_arrow::pipeline {
namespace {

using common::ManualClock;
using std::chrono::hours;
using std::chrono::seconds;
using testing::Concat;
using testing::FakeSpanBatchExporter;
using ::testing::HasSubstr;
using testing::NamedRequest;
using testing::SpanNames;

bool SameSpans(const arrow::RecordBatch& a, const arrow::RecordBatch& b) {
  return a.Equals(b, /*check_metadata=*/false,
                  arrow::EqualOptions::Defaults().nans_equal(true));
}

class OtlpTraceIngestTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeIngest(BatchingSpanExporterOptions{}); }

  void MakeIngest(BatchingSpanExporterOptions options,
                  OtlpTraceIngestOptions ingest_options = {}) {
    options.clock = clock_;
    options.flush_interval = hours(1);
    options.max_enqueue_wait = std::chrono::milliseconds(0);
    options.shutdown_timeout = std::chrono::milliseconds(0);  // never wait on clock_
    auto exporter = BatchingSpanExporter::Make(options, fake_);
    ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
    exporter_ = std::move(*exporter);
    auto ingest = OtlpTraceIngest::Make(exporter_, ingest_options);
    ASSERT_TRUE(ingest.ok()) << ingest.status().ToString();
    ingest_ = std::move(*ingest);
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::shared_ptr<FakeSpanBatchExporter> fake_ =
      std::make_shared<FakeSpanBatchExporter>(clock_);
  std::shared_ptr<BatchingSpanExporter> exporter_;
  std::unique_ptr<OtlpTraceIngest> ingest_;
};

TEST_F(OtlpTraceIngestTest, MakeChecksTheOptionsAndTheExporter) {
  OtlpTraceIngestOptions options;
  options.max_span_bytes = -1;
  auto made = OtlpTraceIngest::Make(exporter_, options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("max_span_bytes"), std::string::npos);
  options = OtlpTraceIngestOptions{};
  options.memory_pool = nullptr;
  EXPECT_FALSE(OtlpTraceIngest::Make(exporter_, options).ok());
  EXPECT_FALSE(OtlpTraceIngest::Make(nullptr).ok());
  EXPECT_TRUE(OtlpTraceIngest::Make(exporter_).ok());
}

TEST_F(OtlpTraceIngestTest, ProtobufRequestIsQueuedAsItsSpanTable) {
  const auto request = model::RealisticSpans(300, 7);
  const IngestResult result = ingest_->IngestOtlpProtobuf(request.SerializeAsString());
  EXPECT_EQ(result.code, IngestCode::kAccepted) << result.message;
  EXPECT_EQ(result.spans, 300);
  EXPECT_EQ(exporter_->Stats().spans_enqueued, 300);
  ASSERT_TRUE(exporter_->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto expected, convert::SpanTableEncoder::Encode(request));
  EXPECT_TRUE(SameSpans(*calls[0].batch, *expected));
}

TEST_F(OtlpTraceIngestTest, JsonRequestIsQueuedAsItsSpanTable) {
  const auto request = model::RandomSpans(50, 11);
  std::string json;
  ASSERT_OK(model::TraceRequestToJson(request, &json));
  const IngestResult result = ingest_->IngestOtlpJson(json);
  EXPECT_EQ(result.code, IngestCode::kAccepted) << result.message;
  EXPECT_EQ(result.spans, 50);
  ASSERT_TRUE(exporter_->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto expected, convert::SpanTableEncoder::Encode(request));
  EXPECT_TRUE(SameSpans(*calls[0].batch, *expected));
}

TEST_F(OtlpTraceIngestTest, MalformedRequestsAreInvalidAndQueueNothing) {
  const IngestResult garbage = ingest_->IngestOtlpProtobuf("\xff\xff\xff\xff garbage");
  EXPECT_EQ(garbage.code, IngestCode::kInvalid);
  EXPECT_FALSE(garbage.message.empty());

  // Well-formed protobuf, but a trace id of 3 bytes: the message names the field.
  auto request = NamedRequest(5, "bad");
  request.mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_spans(3)
      ->set_trace_id("abc");
  const IngestResult bad_id = ingest_->IngestOtlpProtobuf(request.SerializeAsString());
  EXPECT_EQ(bad_id.code, IngestCode::kInvalid);
  EXPECT_THAT(bad_id.message, HasSubstr("trace_id"));

  const IngestResult bad_json = ingest_->IngestOtlpJson(R"({"resourceSpans": 7})");
  EXPECT_EQ(bad_json.code, IngestCode::kInvalid);
  EXPECT_THAT(bad_json.message, HasSubstr("resourceSpans"));

  std::string json;
  ASSERT_OK(model::TraceRequestToJson(NamedRequest(2, "j"), &json));
  const IngestResult truncated = ingest_->IngestOtlpJson(json.substr(0, json.size() / 2));
  EXPECT_EQ(truncated.code, IngestCode::kInvalid);

  const auto stats = exporter_->Stats();
  EXPECT_EQ(stats.spans_enqueued, 0);
  EXPECT_EQ(stats.batches_enqueued, 0);
  EXPECT_EQ(stats.queue_spans, 0);

  // The encoders were reset by the failures and are reused: a valid request after them
  // is queued whole, with none of the bad request's rows.
  const IngestResult good =
      ingest_->IngestOtlpProtobuf(NamedRequest(4, "ok").SerializeAsString());
  EXPECT_EQ(good.code, IngestCode::kAccepted) << good.message;
  ASSERT_TRUE(exporter_->ForceFlush(seconds(1)));
  EXPECT_EQ(fake_->delivered(), SpanNames(4, "ok"));
}

// `spans` spans of `filler` bytes of attribute each, and one of `large` bytes at `at`.
otlp::ExportTraceServiceRequest SpansWithOneLarge(int spans, size_t filler, int at,
                                                  size_t large) {
  auto request = model::RandomSpans(spans, 5);
  int index = 0;
  for (auto& rs : *request.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        auto* attribute = span.add_attributes();
        attribute->set_key("payload");
        // Distinct values: a dictionary does not fold them into one.
        std::string value(index == at ? large : filler, 'a' + index % 26);
        value += std::to_string(index++);
        attribute->mutable_value()->set_string_value(std::move(value));
      }
    }
  }
  return request;
}

// What the exporter cannot deliver is refused up front, never acknowledged and dropped.
TEST_F(OtlpTraceIngestTest, SpanLargerThanMaxSpanBytesIsRefusedUpFront) {
  MakeIngest(BatchingSpanExporterOptions{},
             OtlpTraceIngestOptions{.max_span_bytes = 256 * 1024});
  const auto request = SpansWithOneLarge(40, 1000, 29, 300 * 1024);
  const IngestResult protobuf = ingest_->IngestOtlpProtobuf(request.SerializeAsString());
  EXPECT_EQ(protobuf.code, IngestCode::kTooLarge) << protobuf.message;
  EXPECT_EQ(protobuf.spans, 40);
  EXPECT_THAT(protobuf.message, HasSubstr("span 29 of the request"));
  EXPECT_THAT(protobuf.message, HasSubstr("max_span_bytes (262144)"));
  std::string json;
  ASSERT_OK(model::TraceRequestToJson(request, &json));
  const IngestResult from_json = ingest_->IngestOtlpJson(json);
  EXPECT_EQ(from_json.code, IngestCode::kTooLarge) << from_json.message;
  EXPECT_EQ(exporter_->Stats().spans_enqueued, 0);
}

// The limit is on one span, not on the request: many spans that each fit are taken,
// however large together.
TEST_F(OtlpTraceIngestTest, ManySpansThatEachFitAreTaken) {
  MakeIngest(BatchingSpanExporterOptions{},
             OtlpTraceIngestOptions{.max_span_bytes = 256 * 1024});
  const auto request = SpansWithOneLarge(400, 2000, 7, 200 * 1024);
  const IngestResult result = ingest_->IngestOtlpProtobuf(request.SerializeAsString());
  EXPECT_EQ(result.code, IngestCode::kAccepted) << result.message;
  EXPECT_EQ(exporter_->Stats().spans_enqueued, 400);
}

TEST_F(OtlpTraceIngestTest, EmptyRequestIsAcceptedWithoutQueuing) {
  const IngestResult empty_bytes = ingest_->IngestOtlpProtobuf("");
  EXPECT_EQ(empty_bytes.code, IngestCode::kAccepted);
  EXPECT_EQ(empty_bytes.spans, 0);
  const IngestResult no_spans =
      ingest_->IngestOtlpProtobuf(NamedRequest(0, "none").SerializeAsString());
  EXPECT_EQ(no_spans.code, IngestCode::kAccepted);
  const IngestResult empty_json = ingest_->IngestOtlpJson("{}");
  EXPECT_EQ(empty_json.code, IngestCode::kAccepted);
  EXPECT_EQ(empty_json.spans, 0);
  EXPECT_EQ(exporter_->Stats().batches_enqueued, 0);
  EXPECT_TRUE(exporter_->ForceFlush(seconds(1)));
  EXPECT_TRUE(fake_->calls().empty());
}

TEST_F(OtlpTraceIngestTest, QueueRefusalsPassThroughWithTheSpanCount) {
  BatchingSpanExporterOptions options;
  options.batch_size = 10;
  options.max_queue_spans = 10;
  MakeIngest(options);
  const IngestResult too_large =
      ingest_->IngestOtlpProtobuf(NamedRequest(11, "big").SerializeAsString());
  EXPECT_EQ(too_large.code, IngestCode::kTooLarge);
  EXPECT_EQ(too_large.spans, 11);

  EXPECT_TRUE(exporter_->Shutdown(seconds(1)).ok());
  const IngestResult late =
      ingest_->IngestOtlpProtobuf(NamedRequest(3, "late").SerializeAsString());
  EXPECT_EQ(late.code, IngestCode::kShuttingDown);
  EXPECT_EQ(late.spans, 3);
  EXPECT_GT(late.retry_after.count(), 0);
}

TEST_F(OtlpTraceIngestTest, ConcurrentRequestsFromManyThreads) {
  constexpr int kThreads = 6;
  constexpr int kRequests = 30;
  std::vector<std::future<int>> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.push_back(std::async(std::launch::async, [this, t] {
      int accepted = 0;
      for (int r = 0; r < kRequests; ++r) {
        const std::string tag = "t" + std::to_string(t) + "r" + std::to_string(r);
        const auto request = NamedRequest(5, tag);
        IngestResult result;
        if (r % 3 == 0) {
          std::string json;
          if (!model::TraceRequestToJson(request, &json).ok()) return -1;
          result = ingest_->IngestOtlpJson(json);
        } else {
          result = ingest_->IngestOtlpProtobuf(request.SerializeAsString());
        }
        accepted += result.ok() && result.spans == 5;
      }
      return accepted;
    }));
  }
  for (auto& thread : threads) EXPECT_EQ(thread.get(), kRequests);
  ASSERT_TRUE(exporter_->ForceFlush(seconds(1)));
  const auto delivered = fake_->delivered();
  EXPECT_EQ(delivered.size(), size_t{kThreads * kRequests * 5});
  EXPECT_EQ(std::set<std::string>(delivered.begin(), delivered.end()).size(),
            delivered.size());
}

}  // namespace
}  // namespace otlp_arrow::pipeline
