// SPDX-License-Identifier: Apache-2.0
// OtlpTraceIngest: OTLP and OTAP requests → span-table batches → the
// BatchingSpanExporter.

#pragma once

#include <memory>
#include <string_view>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/transport/flight_span_exporter.h"

namespace otlp_arrow::pipeline {

/// \brief Configuration of an OtlpTraceIngest.
struct OtlpTraceIngestOptions {
  /// \brief Where a request suspected of holding an oversized span is encoded on its
  /// own to find that span (the batches themselves are the BatchingSpanExporter's).
  arrow::MemoryPool* memory_pool = arrow::default_memory_pool();

  /// \brief Largest span taken, in bytes of Arrow data of its own span table
  /// (arrow::util::TotalBufferSize): the exporter can send no larger one
  /// (transport::FlightSpanExporterOptions::max_span_bytes), and a request holding one is
  /// refused whole (kTooLarge) rather than acknowledged and dropped later. Zero: no
  /// check.
  int64_t max_span_bytes =
      transport::FlightSpanExporterOptions::Defaults().max_span_bytes;

  /// \brief Checks `memory_pool` and `max_span_bytes`.
  arrow::Status Validate() const;
};

/// \brief The TraceIngest of the gateway: encodes each request straight into the
/// BatchingSpanExporter's open batch (BatchingSpanExporter::Append).
///
/// OTLP protobuf goes from the wire bytes into Arrow builders
/// (SpanTableEncoder::AppendOtlpProtobuf), without protobuf objects; OTLP/JSON is
/// parsed into an arena-allocated request first; OTAP payloads, decoded by the receiver,
/// are appended by convert::OtapTraces::AppendTo. Thread-safe.
///
/// A malformed request is kInvalid with the encoder's or parser's message, which names
/// the field; nothing of it is queued and the other requests' spans in the same batch
/// stay. A request holding a span larger than `max_span_bytes` is kTooLarge, naming
/// the span (a request is only looked into span by span when it is larger than that
/// as a whole). A request without spans is kAccepted and queues nothing. Otherwise the
/// answer is BatchingSpanExporter::Append's.
class OtlpTraceIngest : public TraceIngest {
 public:
  /// \brief Checks `options` and `exporter` (not null).
  static arrow::Result<std::unique_ptr<OtlpTraceIngest>> Make(
      std::shared_ptr<BatchingSpanExporter> exporter,
      OtlpTraceIngestOptions options = {});
  ~OtlpTraceIngest() override;

  IngestResult IngestOtlpProtobuf(std::string_view request) override;
  IngestResult IngestOtlpJson(std::string_view request) override;
  IngestResult IngestOtap(
      const std::shared_ptr<const convert::OtapTraces>& traces) override;

 private:
  OtlpTraceIngest(std::shared_ptr<BatchingSpanExporter> exporter,
                  OtlpTraceIngestOptions options);
  IngestResult Ingest(const AppendSpans& append);
  // The answer for a request whose spans together pass max_span_bytes: kTooLarge
  // naming the first span that does alone, else the request is appended unchecked.
  IngestResult IngestLargeRequest(const AppendSpans& append);

  std::shared_ptr<BatchingSpanExporter> exporter_;
  OtlpTraceIngestOptions options_;
};

}  // namespace otlp_arrow::pipeline
