// SPDX-License-Identifier: Apache-2.0
// SpanBatchExporter: where the BatchingSpanExporter sends its batches. The production
// implementation sends them over Arrow Flight (flight_span_batch_exporter.h); tests put
// fakes in its place. This header brings no exporter with it.

#pragma once

#include <memory>

#include <arrow/record_batch.h>
#include <arrow/status.h>

#include "otlp_arrow/transport/export_result.h"

namespace otlp_arrow::pipeline {

/// \brief Sends one span-table batch and says what became of it.
///
/// Export() is called from one thread at a time (the batching worker); Shutdown() may be
/// called from another thread while an Export() runs and should make it return soon.
class SpanBatchExporter {
 public:
  virtual ~SpanBatchExporter() = default;

  /// \brief Sends `spans` (a span-table batch of at least one row).
  ///
  /// \return the outcome: OK status when every span was acknowledged, otherwise
  /// `retryable` tells whether sending the rest of the batch again later may succeed,
  /// and `spans_acknowledged` how many of its rows the receiver has: they must be the
  /// first rows of `spans` (FlightSpanExporter sends chunks in row order, one at a
  /// time), so a retry sends only the rows after them. An export that could not even
  /// start (bad input, shut down) fails with nothing acknowledged, not retryable.
  virtual transport::ExportResult Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) = 0;

  /// \brief Interrupts a running Export() where possible and releases connections.
  /// Export() fails afterwards. Idempotent.
  virtual arrow::Status Shutdown() = 0;
};

}  // namespace otlp_arrow::pipeline
