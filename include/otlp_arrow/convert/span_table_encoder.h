// SPDX-License-Identifier: Apache-2.0
// OTLP → span table: appends OTLP spans straight into Arrow builders.

#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::convert {

namespace internal {
struct SpanTableEncoderAccess;
}  // namespace internal

/// \brief Builds span-table RecordBatches (EncodedSpanTableSchema(): the span table
/// without its derived time columns) from OTLP trace data.
///
/// Spans go from the protobuf messages directly into Arrow builders; there is no
/// intermediate span object. Values shared by a resource or scope are encoded once per
/// group and repeated. An encoder can be reused: Finish() returns the batch and starts
/// the next one.
///
/// Bad input (an id of the wrong width, a profiles-only field such as `key_strindex`)
/// fails with Status::Invalid naming the OTLP field path. A failed Append leaves the
/// encoder as it was before the call: nothing of that input is kept, never half a
/// span, and the rows of earlier calls stay. So one encoder can gather the requests of
/// many clients into one batch, and a bad request costs nothing to the others.
class SpanTableEncoder {
 public:
  explicit SpanTableEncoder(arrow::MemoryPool* pool = arrow::default_memory_pool());
  ~SpanTableEncoder();
  SpanTableEncoder(const SpanTableEncoder&) = delete;
  SpanTableEncoder& operator=(const SpanTableEncoder&) = delete;

  /// \brief Appends every span of the request, one row each, in request order.
  arrow::Status Append(const otlp::ExportTraceServiceRequest& request);

  /// \brief Appends every span of one ResourceSpans.
  arrow::Status Append(const otlp::ResourceSpans& resource_spans);

  /// \brief Appends the spans of an ExportTraceServiceRequest in protobuf wire format —
  /// the bytes OTLP/gRPC and OTLP/HTTP carry — without building protobuf objects: the
  /// same rows and the same checks as parsing the bytes and calling Append(request).
  /// Malformed bytes and strings that are not UTF-8 (which protobuf's parser also
  /// refuses) are Status::Invalid. The strings are copied: `bytes` need not outlive the
  /// call.
  arrow::Status AppendOtlpProtobuf(std::string_view bytes);

  /// \brief Rows appended since the last Finish().
  int64_t num_rows() const;

  /// \brief About the bytes of the batch Finish() would return now
  /// (arrow::util::TotalBufferSize), without finishing it.
  int64_t EncodedBytes() const;

  /// \brief The encoder's state at one moment (the sizes of its buffers), to go back to
  /// with RollbackTo(). Valid until the next Finish().
  struct Checkpoint {
    std::vector<int64_t> sizes;
  };
  Checkpoint SaveCheckpoint() const;
  /// \brief Drops every row appended since `checkpoint` was saved (for example a
  /// request accepted by the encoder that the queue then has no room for). A default
  /// Checkpoint does nothing.
  void RollbackTo(const Checkpoint& checkpoint);

  /// \brief Returns the batch of all rows appended since the last Finish() and resets.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  /// \brief One-shot conversion of a whole request.
  static arrow::Result<std::shared_ptr<arrow::RecordBatch>> Encode(
      const otlp::ExportTraceServiceRequest& request,
      arrow::MemoryPool* pool = arrow::default_memory_pool());

 private:
  // Other encoders of the span table in this library (OTAP) append to the same writers.
  friend struct internal::SpanTableEncoderAccess;

  // Rolls back to the start of the Append in progress when `status` (or a writer's
  // allocation) failed; returns the error.
  arrow::Status RollBack(arrow::Status status);
  arrow::Status AppendResourceSpans(const otlp::ResourceSpans& resource_spans, int index);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::convert
