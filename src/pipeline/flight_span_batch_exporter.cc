// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/pipeline/flight_span_batch_exporter.h"

#include <utility>

namespace otlp_arrow::pipeline {

FlightSpanBatchExporter::FlightSpanBatchExporter(
    std::unique_ptr<transport::FlightSpanExporter> exporter)
    : exporter_(std::move(exporter)) {}

arrow::Result<std::unique_ptr<FlightSpanBatchExporter>> FlightSpanBatchExporter::Make(
    transport::FlightSpanExporterOptions options) {
  ARROW_ASSIGN_OR_RAISE(auto exporter,
                        transport::FlightSpanExporter::Make(std::move(options)));
  return std::make_unique<FlightSpanBatchExporter>(std::move(exporter));
}

transport::ExportResult FlightSpanBatchExporter::Export(
    const std::shared_ptr<arrow::RecordBatch>& spans) {
  if (spans == nullptr) {
    return transport::ExportResult::NothingSent(
        arrow::Status::Invalid("span batch is null"), 0);
  }
  return exporter_->Export(*spans);
}

arrow::Status FlightSpanBatchExporter::Shutdown() { return exporter_->Shutdown(); }

}  // namespace otlp_arrow::pipeline
