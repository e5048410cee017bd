// SPDX-License-Identifier: Apache-2.0
// OtlpTraceIngest: OTLP requests → span-table batches → the BatchingSpanExporter.

#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/status.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/transport/flight_span_exporter.h"

namespace otlp_arrow::pipeline {

/// \brief Configuration of an OtlpTraceIngest.
struct OtlpTraceIngestOptions {
  /// \brief Encoders kept for reuse between requests. More concurrent requests than
  /// this make encoders that are destroyed afterwards; about the number of receiver
  /// threads is right.
  size_t max_idle_encoders = 16;

  /// \brief Where the span-table batches are allocated.
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

/// \brief The TraceIngest of the gateway: encodes each request into one span-table
/// batch and queues it whole in a BatchingSpanExporter.
///
/// OTLP protobuf goes straight from the wire bytes into Arrow builders
/// (SpanTableEncoder::AppendOtlpProtobuf), without protobuf objects; OTLP/JSON is
/// parsed into an arena-allocated request first. Encoders are reused from a small free
/// list. Thread-safe.
///
/// A malformed request is kInvalid with the encoder's or parser's message, which names
/// the field; nothing of it is queued. A request holding a span larger than
/// `max_span_bytes` is kTooLarge, naming the span. A request without spans is kAccepted
/// and queues nothing. Otherwise the answer is BatchingSpanExporter::Enqueue's.
class OtlpTraceIngest : public TraceIngest {
 public:
  explicit OtlpTraceIngest(std::shared_ptr<BatchingSpanExporter> exporter,
                           OtlpTraceIngestOptions options = {});
  ~OtlpTraceIngest() override;

  IngestResult IngestOtlpProtobuf(std::string_view request) override;
  IngestResult IngestOtlpJson(std::string_view request) override;

 private:
  std::unique_ptr<convert::SpanTableEncoder> AcquireEncoder();
  void ReleaseEncoder(std::unique_ptr<convert::SpanTableEncoder> encoder);
  // Takes the encoder's batch, returns the encoder to the free list and queues the
  // batch (the encoder is not held while Enqueue waits for room).
  IngestResult FinishAndEnqueue(std::unique_ptr<convert::SpanTableEncoder> encoder);

  std::shared_ptr<BatchingSpanExporter> exporter_;
  OtlpTraceIngestOptions options_;
  std::mutex encoders_mutex_;
  std::vector<std::unique_ptr<convert::SpanTableEncoder>> idle_encoders_;
};

}  // namespace otlp_arrow::pipeline
