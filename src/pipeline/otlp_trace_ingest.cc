// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/pipeline/otlp_trace_ingest.h"

#include <utility>

#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/model/otlp.h"
#include "otlp_json_ingest_internal.h"

namespace otlp_arrow::pipeline {

namespace {

IngestResult Invalid(const arrow::Status& status) {
  IngestResult result;
  result.code = IngestCode::kInvalid;
  result.message = status.message();
  return result;
}

// Bytes of `spans` as a span table of their own. A slice shares its parent's buffers and
// dictionaries, so it is encoded anew to be measured, as the exporter does with a piece
// whose dictionaries are large.
arrow::Result<int64_t> OwnBytes(const arrow::RecordBatch& spans) {
  otlp::ExportTraceServiceRequest request;
  ARROW_RETURN_NOT_OK(convert::DecodeSpanTable(spans, &request));
  ARROW_ASSIGN_OR_RAISE(auto encoded, convert::SpanTableEncoder::Encode(request));
  return arrow::util::TotalBufferSize(*encoded);
}

struct OversizeSpan {
  int64_t row = -1;  // -1: none
  int64_t bytes = 0;
};

// The first row of `spans` (whose own bytes are `bytes`) larger than `limit` alone.
// Halves that fit are not looked into, so a request of many small spans costs one
// encoding of each half at most.
arrow::Result<OversizeSpan> FindOversizeSpan(
    const std::shared_ptr<arrow::RecordBatch>& spans, int64_t first_row, int64_t bytes,
    int64_t limit) {
  if (bytes <= limit) return OversizeSpan{};
  if (spans->num_rows() == 1) return OversizeSpan{first_row, bytes};
  const int64_t half = spans->num_rows() / 2;
  for (const auto& [offset, length] :
       {std::pair{int64_t{0}, half}, std::pair{half, spans->num_rows() - half}}) {
    const auto piece = spans->Slice(offset, length);
    ARROW_ASSIGN_OR_RAISE(const int64_t piece_bytes, OwnBytes(*piece));
    ARROW_ASSIGN_OR_RAISE(
        auto found, FindOversizeSpan(piece, first_row + offset, piece_bytes, limit));
    if (found.row >= 0) return found;
  }
  return OversizeSpan{};
}

}  // namespace

arrow::Status OtlpTraceIngestOptions::Validate() const {
  if (memory_pool == nullptr) return arrow::Status::Invalid("memory_pool is null");
  if (max_span_bytes < 0) {
    return arrow::Status::Invalid("max_span_bytes must not be negative, got ",
                                  max_span_bytes);
  }
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<OtlpTraceIngest>> OtlpTraceIngest::Make(
    std::shared_ptr<BatchingSpanExporter> exporter, OtlpTraceIngestOptions options) {
  ARROW_RETURN_NOT_OK(options.Validate());
  if (exporter == nullptr) return arrow::Status::Invalid("BatchingSpanExporter is null");
  return std::unique_ptr<OtlpTraceIngest>(
      new OtlpTraceIngest(std::move(exporter), options));
}

OtlpTraceIngest::OtlpTraceIngest(std::shared_ptr<BatchingSpanExporter> exporter,
                                 OtlpTraceIngestOptions options)
    : exporter_(std::move(exporter)), options_(options) {}

OtlpTraceIngest::~OtlpTraceIngest() = default;

IngestResult OtlpTraceIngest::Ingest(const AppendSpans& append) {
  if (options_.max_span_bytes <= 0) return exporter_->Append(append);
  bool large = false;
  IngestResult result = exporter_->Append([&](convert::SpanTableEncoder& encoder) {
    const int64_t before = encoder.EncodedBytes();
    ARROW_RETURN_NOT_OK(append(encoder));
    // The request's spans together are larger than one span may be: one of them may
    // be alone. Rare, and looked into outside the open batch.
    large = encoder.EncodedBytes() - before > options_.max_span_bytes;
    return large ? arrow::Status::CapacityError("request to look into span by span")
                 : arrow::Status::OK();
  });
  return large ? IngestLargeRequest(append) : result;
}

IngestResult OtlpTraceIngest::IngestLargeRequest(const AppendSpans& append) {
  convert::SpanTableEncoder encoder(options_.memory_pool);
  arrow::Status status = append(encoder);
  if (!status.ok()) return Invalid(status);
  IngestResult result;
  result.spans = encoder.num_rows();
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch = encoder.Finish();
  arrow::Result<OversizeSpan> oversize =
      batch.ok() ? FindOversizeSpan(*batch, 0, arrow::util::TotalBufferSize(**batch),
                                    options_.max_span_bytes)
                 : arrow::Result<OversizeSpan>(batch.status());
  if (oversize.ok() && oversize->row < 0) return exporter_->Append(append);
  result.code = IngestCode::kTooLarge;
  result.message =
      oversize.ok()
          ? fmt::format(
                "span {} of the request is {} bytes as Arrow data, more than "
                "max_span_bytes ({}), the largest span this gateway can deliver; "
                "nothing of the request was taken",
                oversize->row, oversize->bytes, options_.max_span_bytes)
          : fmt::format("cannot measure the spans of the request: {}",
                        oversize.status().message());
  return result;
}

IngestResult OtlpTraceIngest::IngestOtlpProtobuf(std::string_view request) {
  return Ingest([request](convert::SpanTableEncoder& encoder) {
    return encoder.AppendOtlpProtobuf(request);
  });
}

IngestResult OtlpTraceIngest::IngestOtlpJson(std::string_view request) {
  return internal::IngestOtlpJsonRequest(
      request, [this](const AppendSpans& append) { return Ingest(append); });
}

IngestResult OtlpTraceIngest::IngestOtap(
    const std::shared_ptr<const convert::OtapTraces>& traces) {
  return Ingest([traces](convert::SpanTableEncoder& encoder) {
    return traces->AppendTo(&encoder);
  });
}

}  // namespace otlp_arrow::pipeline
