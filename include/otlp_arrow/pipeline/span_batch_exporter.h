// SPDX-License-Identifier: Apache-2.0
// SpanBatchExporter: where the BatchingSpanExporter sends its batches. The production
// implementation sends them over Arrow Flight; tests put fakes in its place.

#pragma once

#include <memory>

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/transport/flight_span_exporter.h"

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
  /// \return the outcome: `success` when every span was acknowledged, otherwise
  /// `retryable` tells whether sending the rest of the batch again later may succeed,
  /// and `spans_acknowledged` how many of its rows the receiver has: they must be the
  /// first rows of `spans` (FlightSpanExporter sends chunks in row order, one at a
  /// time), so a retry sends only the rows after them. An error Status means that
  /// nothing could be tried (bad input, shut down) and counts as a permanent failure.
  virtual arrow::Result<transport::ExportResult> Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) = 0;

  /// \brief Interrupts a running Export() where possible and releases connections.
  /// Export() fails afterwards. Idempotent.
  virtual arrow::Status Shutdown() = 0;
};

/// \brief A SpanBatchExporter over a transport::FlightSpanExporter.
class FlightSpanBatchExporter : public SpanBatchExporter {
 public:
  explicit FlightSpanBatchExporter(
      std::unique_ptr<transport::FlightSpanExporter> exporter);

  /// \brief Makes the FlightSpanExporter (see FlightSpanExporter::Make).
  static arrow::Result<std::unique_ptr<FlightSpanBatchExporter>> Make(
      transport::FlightSpanExporterOptions options);

  arrow::Result<transport::ExportResult> Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) override;

  arrow::Status Shutdown() override;

 private:
  std::unique_ptr<transport::FlightSpanExporter> exporter_;
};

}  // namespace otlp_arrow::pipeline
