// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/pipeline/span_sink_ingest.h"

#include <utility>

#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_json_ingest_internal.h"

namespace otlp_arrow::pipeline {

namespace {

IngestResult Refused(IngestCode code, int64_t spans, std::string message) {
  IngestResult result;
  result.code = code;
  result.spans = spans;
  result.message = std::move(message);
  return result;
}

}  // namespace

arrow::Status SpanSinkIngest::Options::Validate() const {
  if (memory_pool == nullptr) return arrow::Status::Invalid("memory_pool is null");
  if (max_batch_bytes < 0) {
    return arrow::Status::Invalid("max_batch_bytes must not be negative, got ",
                                  max_batch_bytes);
  }
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<SpanSinkIngest>> SpanSinkIngest::Make(
    std::shared_ptr<storage::SpanSink> sink, Options options) {
  ARROW_RETURN_NOT_OK(options.Validate());
  if (sink == nullptr) return arrow::Status::Invalid("SpanSinkIngest: no SpanSink");
  return std::unique_ptr<SpanSinkIngest>(new SpanSinkIngest(std::move(sink), options));
}

SpanSinkIngest::SpanSinkIngest(std::shared_ptr<storage::SpanSink> sink, Options options)
    : sink_(std::move(sink)), options_(options) {}

IngestResult SpanSinkIngest::Store(const AppendSpans& append) {
  convert::SpanTableEncoder encoder(options_.memory_pool);
  arrow::Status status = append(encoder);
  if (!status.ok()) {
    // The encoder refuses content with Invalid; anything else (an allocation) is this
    // process's trouble, and the same request may pass later.
    return Refused(status.IsInvalid() ? IngestCode::kInvalid : IngestCode::kUnavailable,
                   0, status.message());
  }
  const int64_t spans = encoder.num_rows();
  if (spans == 0) return IngestResult{};
  if (options_.max_batch_bytes > 0 && encoder.EncodedBytes() > options_.max_batch_bytes) {
    return Refused(IngestCode::kTooLarge, spans,
                   fmt::format("the request's {} spans are {} bytes as Arrow data, more "
                               "than this receiver stores in one batch ({})",
                               spans, encoder.EncodedBytes(), options_.max_batch_bytes));
  }
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch = encoder.Finish();
  if (batch.ok()) {
    // Adds the derived time columns; shares everything else.
    batch = convert::ConformToSpanTableSchema(**batch, options_.memory_pool);
  }
  status = batch.ok() ? sink_->AppendValidated(*batch, nullptr) : batch.status();
  if (status.IsInvalid()) return Refused(IngestCode::kInvalid, spans, status.message());
  if (!status.ok()) {
    return Refused(IngestCode::kUnavailable, spans,
                   fmt::format("cannot store the spans now: {}", status.message()));
  }
  IngestResult result;
  result.spans = spans;
  return result;
}

IngestResult SpanSinkIngest::IngestOtlpProtobuf(std::string_view request) {
  return Store([request](convert::SpanTableEncoder& encoder) {
    return encoder.AppendOtlpProtobuf(request);
  });
}

IngestResult SpanSinkIngest::IngestOtlpJson(std::string_view request) {
  return internal::IngestOtlpJsonRequest(
      request, [this](const AppendSpans& append) { return Store(append); });
}

IngestResult SpanSinkIngest::IngestOtap(
    const std::shared_ptr<const convert::OtapTraces>& traces) {
  return Store([&traces](convert::SpanTableEncoder& encoder) {
    return traces->AppendTo(&encoder);
  });
}

}  // namespace otlp_arrow::pipeline
