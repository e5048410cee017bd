// SPDX-License-Identifier: Apache-2.0
// TraceIngest: what a receiver (OTLP over gRPC or HTTP, OTAP) hands each request to, and
// the answer it turns into a gRPC status, an HTTP status code or an OTAP BatchStatus.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace otlp_arrow::convert {
class OtapTraces;
}  // namespace otlp_arrow::convert

namespace otlp_arrow::pipeline {

/// \brief What became of one OTLP request. Every code but kAccepted means that no span of
/// the request was taken: a request is taken whole or not at all.
enum class IngestCode {
  /// Every span is in the export queue.            gRPC OK, HTTP 200.
  kAccepted,
  /// Malformed request (bad wire bytes, bad JSON, an id of the wrong width).
  ///                                                gRPC INVALID_ARGUMENT, HTTP 400.
  kInvalid,
  /// The queue stayed full for the producer's wait bound; retry later.
  ///                                                gRPC RESOURCE_EXHAUSTED, HTTP 429.
  kQueueFull,
  /// The request alone holds more spans or bytes than the queue ever can, or a span
  /// larger than can be delivered (max_span_bytes).
  ///                                                gRPC RESOURCE_EXHAUSTED, HTTP 413.
  kTooLarge,
  /// The pipeline is shutting down or has stopped.  gRPC UNAVAILABLE, HTTP 503.
  kShuttingDown,
  /// Where the spans go cannot take them now (a store whose disk is full or failing);
  /// the same request may succeed later.           gRPC UNAVAILABLE, HTTP 503.
  kUnavailable,
};

/// \brief The answer to one request.
struct [[nodiscard]] IngestResult {
  IngestCode code = IngestCode::kAccepted;
  /// \brief Spans in the request (all of them queued when kAccepted).
  int64_t spans = 0;
  /// \brief For the client when not accepted: names the bad field or the limit hit.
  std::string message;
  /// \brief For kQueueFull and kShuttingDown: when a retry may succeed (HTTP
  /// Retry-After, gRPC RetryInfo).
  std::chrono::milliseconds retry_after{0};

  bool ok() const { return code == IngestCode::kAccepted; }
};

/// \brief Takes OTLP trace export requests into the pipeline. Thread-safe: receivers call
/// it from many threads at once. A call may block up to the pipeline's producer wait
/// bound while the queue is full (backpressure), never longer.
class TraceIngest {
 public:
  virtual ~TraceIngest() = default;

  /// \brief An ExportTraceServiceRequest in protobuf wire format (the body of OTLP/gRPC
  /// and of OTLP/HTTP with `application/x-protobuf`), already decompressed.
  virtual IngestResult IngestOtlpProtobuf(std::string_view request) = 0;

  /// \brief An ExportTraceServiceRequest as OTLP/JSON (`application/json`), already
  /// decompressed.
  virtual IngestResult IngestOtlpJson(std::string_view request) = 0;

  /// \brief The decoded trace payloads of one OTAP BatchArrowRecords (decoded by the
  /// receiver with its stream's state; never null).
  virtual IngestResult IngestOtap(
      const std::shared_ptr<const convert::OtapTraces>& traces) = 0;
};

}  // namespace otlp_arrow::pipeline
