// SPDX-License-Identifier: Apache-2.0
// FlightSpanBatchExporter: the SpanBatchExporter of the gateway, over Arrow Flight.

#pragma once

#include <memory>

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/pipeline/span_batch_exporter.h"
#include "otlp_arrow/transport/flight_span_exporter.h"

namespace otlp_arrow::pipeline {

/// \brief A SpanBatchExporter over a transport::FlightSpanExporter.
class FlightSpanBatchExporter : public SpanBatchExporter {
 public:
  explicit FlightSpanBatchExporter(
      std::unique_ptr<transport::FlightSpanExporter> exporter);

  /// \brief Makes the FlightSpanExporter (see FlightSpanExporter::Make).
  static arrow::Result<std::unique_ptr<FlightSpanBatchExporter>> Make(
      transport::FlightSpanExporterOptions options);

  transport::ExportResult Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) override;

  arrow::Status Shutdown() override;

 private:
  std::unique_ptr<transport::FlightSpanExporter> exporter_;
};

}  // namespace otlp_arrow::pipeline
