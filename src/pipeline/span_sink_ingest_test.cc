// SPDX-License-Identifier: Apache-2.0
// SpanSinkIngest: each request into a span table of its own, stored through a SpanSink.

#include "otlp_arrow/pipeline/span_sink_ingest.h"

#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/model/otlp_json.h"
#include "pipeline_test_util.h"

namespace otlp_arrow::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::NamedRequest;
using testing::Names;
using testing::SpanNames;

// Keeps what it is given; fails as told.
class RecordingSink : public storage::SpanSink {
 public:
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>&) override {
    return arrow::Status::NotImplemented("the ingest must call AppendValidated");
  }
  arrow::Status AppendValidated(const std::shared_ptr<arrow::RecordBatch>& spans,
                                std::shared_ptr<arrow::Buffer>) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fail_with_.ok()) return fail_with_;
    batches_.push_back(spans);
    return arrow::Status::OK();
  }
  arrow::Status Flush() override { return arrow::Status::OK(); }
  arrow::Status Close() override { return arrow::Status::OK(); }

  void FailWith(arrow::Status status) {
    std::lock_guard<std::mutex> lock(mutex_);
    fail_with_ = std::move(status);
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  std::mutex mutex_;
  arrow::Status fail_with_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

std::unique_ptr<SpanSinkIngest> MakeIngest(std::shared_ptr<storage::SpanSink> sink,
                                           int64_t max_batch_bytes = 0) {
  SpanSinkIngest::Options options;
  options.max_batch_bytes = max_batch_bytes;
  auto ingest = SpanSinkIngest::Make(std::move(sink), options);
  EXPECT_TRUE(ingest.ok()) << ingest.status();
  return ingest.ok() ? std::move(*ingest) : nullptr;
}

TEST(SpanSinkIngest, MakeChecksItsArguments) {
  EXPECT_TRUE(SpanSinkIngest::Make(nullptr, {}).status().IsInvalid());
  SpanSinkIngest::Options negative;
  negative.max_batch_bytes = -1;
  EXPECT_TRUE(SpanSinkIngest::Make(std::make_shared<RecordingSink>(), negative)
                  .status()
                  .IsInvalid());
}

TEST(SpanSinkIngest, StoresEachRequestAsAFullSpanTable) {
  auto sink = std::make_shared<RecordingSink>();
  auto ingest = MakeIngest(sink);
  const auto protobuf =
      ingest->IngestOtlpProtobuf(NamedRequest(3, "a").SerializeAsString());
  EXPECT_TRUE(protobuf.ok()) << protobuf.message;
  EXPECT_EQ(protobuf.spans, 3);
  std::string json;
  ASSERT_TRUE(model::TraceRequestToJson(NamedRequest(2, "b"), &json).ok());
  const auto from_json = ingest->IngestOtlpJson(json);
  EXPECT_TRUE(from_json.ok()) << from_json.message;

  const auto batches = sink->batches();
  ASSERT_EQ(batches.size(), 2u);
  // With the derived time columns the store keeps: the sink gets the span table whole.
  EXPECT_TRUE(batches[0]->schema()->Equals(*convert::SpanTableSchema(), false));
  EXPECT_EQ(Names(*batches[0]), SpanNames(3, "a"));
  EXPECT_EQ(Names(*batches[1]), SpanNames(2, "b"));
}

TEST(SpanSinkIngest, AnEmptyRequestStoresNothing) {
  auto sink = std::make_shared<RecordingSink>();
  auto ingest = MakeIngest(sink);
  const auto result = ingest->IngestOtlpProtobuf("");
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.spans, 0);
  EXPECT_TRUE(sink->batches().empty());
}

TEST(SpanSinkIngest, AnswersForBadRequestsAndAFailingSink) {
  auto sink = std::make_shared<RecordingSink>();
  auto ingest = MakeIngest(sink);
  auto bad_id = NamedRequest(1, "x");
  bad_id.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_span_id(
      "short");
  const auto invalid = ingest->IngestOtlpProtobuf(bad_id.SerializeAsString());
  EXPECT_EQ(invalid.code, IngestCode::kInvalid);
  EXPECT_THAT(invalid.message, HasSubstr("span_id"));
  EXPECT_EQ(ingest->IngestOtlpJson("{not json").code, IngestCode::kInvalid);

  // The store's own trouble may pass: retry. Its refusal of the content may not.
  sink->FailWith(arrow::Status::IOError("disk full"));
  const auto full = ingest->IngestOtlpProtobuf(NamedRequest(2, "y").SerializeAsString());
  EXPECT_EQ(full.code, IngestCode::kUnavailable);
  EXPECT_EQ(full.spans, 2);
  EXPECT_THAT(full.message, HasSubstr("disk full"));
  sink->FailWith(arrow::Status::Invalid("start_time mismatch"));
  EXPECT_EQ(ingest->IngestOtlpProtobuf(NamedRequest(2, "y").SerializeAsString()).code,
            IngestCode::kInvalid);
  EXPECT_TRUE(sink->batches().empty());
}

TEST(SpanSinkIngest, RefusesARequestLargerThanOneStoredBatch) {
  auto sink = std::make_shared<RecordingSink>();
  auto ingest = MakeIngest(sink, /*max_batch_bytes=*/4096);
  EXPECT_TRUE(ingest->IngestOtlpProtobuf(NamedRequest(2, "s").SerializeAsString()).ok());
  const auto big = ingest->IngestOtlpProtobuf(NamedRequest(500, "b").SerializeAsString());
  EXPECT_EQ(big.code, IngestCode::kTooLarge);
  EXPECT_THAT(big.message, HasSubstr("4096"));
  EXPECT_EQ(sink->batches().size(), 1u);
}

}  // namespace
}  // namespace otlp_arrow::pipeline
