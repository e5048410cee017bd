// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/pipeline/otlp_trace_ingest.h"

#include <utility>

#include <google/protobuf/arena.h>

#include "otlp_arrow/model/otlp.h"
#include "otlp_arrow/model/otlp_json.h"

namespace otlp_arrow::pipeline {

namespace {

IngestResult Invalid(const arrow::Status& status) {
  IngestResult result;
  result.code = IngestCode::kInvalid;
  result.message = status.message();
  return result;
}

}  // namespace

OtlpTraceIngest::OtlpTraceIngest(std::shared_ptr<BatchingSpanExporter> exporter,
                                 OtlpTraceIngestOptions options)
    : exporter_(std::move(exporter)), options_(options) {}

OtlpTraceIngest::~OtlpTraceIngest() = default;

std::unique_ptr<convert::SpanTableEncoder> OtlpTraceIngest::AcquireEncoder() {
  {
    std::lock_guard<std::mutex> lock(encoders_mutex_);
    if (!idle_encoders_.empty()) {
      auto encoder = std::move(idle_encoders_.back());
      idle_encoders_.pop_back();
      return encoder;
    }
  }
  return std::make_unique<convert::SpanTableEncoder>(options_.memory_pool);
}

void OtlpTraceIngest::ReleaseEncoder(std::unique_ptr<convert::SpanTableEncoder> encoder) {
  std::lock_guard<std::mutex> lock(encoders_mutex_);
  if (idle_encoders_.size() < options_.max_idle_encoders) {
    idle_encoders_.push_back(std::move(encoder));
  }
}

IngestResult OtlpTraceIngest::FinishAndEnqueue(
    std::unique_ptr<convert::SpanTableEncoder> encoder) {
  if (encoder->num_rows() == 0) {
    // An empty request (no resource spans, or none with spans) succeeds, as OTLP
    // requires; there is nothing to queue.
    ReleaseEncoder(std::move(encoder));
    return IngestResult{};
  }
  const int64_t spans = encoder->num_rows();
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch = encoder->Finish();
  if (!batch.ok()) {
    // The encoder's state after a failed Finish is not specified: not reused. A
    // CapacityError is an offset overflow, i.e. too much string data in one request.
    IngestResult result = Invalid(batch.status());
    result.spans = spans;
    if (batch.status().IsCapacityError()) result.code = IngestCode::kTooLarge;
    return result;
  }
  ReleaseEncoder(std::move(encoder));
  return exporter_->Enqueue(std::move(batch).ValueUnsafe());
}

IngestResult OtlpTraceIngest::IngestOtlpProtobuf(std::string_view request) {
  std::unique_ptr<convert::SpanTableEncoder> encoder = AcquireEncoder();
  // A failed append resets the encoder, so it can go back to the free list.
  arrow::Status status = encoder->AppendOtlpProtobuf(request);
  if (!status.ok()) {
    ReleaseEncoder(std::move(encoder));
    return Invalid(status);
  }
  return FinishAndEnqueue(std::move(encoder));
}

IngestResult OtlpTraceIngest::IngestOtlpJson(std::string_view request) {
  google::protobuf::Arena arena;
  auto* message =
      google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  arrow::Status status = model::TraceRequestFromJson(request, message);
  if (!status.ok()) return Invalid(status);
  std::unique_ptr<convert::SpanTableEncoder> encoder = AcquireEncoder();
  status = encoder->Append(*message);
  if (!status.ok()) {
    ReleaseEncoder(std::move(encoder));
    return Invalid(status);
  }
  return FinishAndEnqueue(std::move(encoder));
}

}  // namespace otlp_arrow::pipeline
