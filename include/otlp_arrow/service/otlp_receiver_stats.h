// SPDX-License-Identifier: Apache-2.0
// Counters of the OTLP receivers, one set per OTLP protocol (grpc, http/protobuf,
// http/json), for the Prometheus endpoint.

#pragma once

#include <cstdint>

namespace otlp_arrow::service {

/// \brief Counters of one OTLP protocol of a receiver since Start(). All are monotonic
/// (Prometheus counters); a snapshot reads each atomically but not all at once, so
/// `requests` may run ahead of the sum of its outcomes by the requests in flight.
///
/// Every export request that reaches the receiver (right path and method, and for HTTP
/// a supported content type and encoding) is counted once in `requests` and, when it is
/// answered, once in exactly one `requests_accepted` / `requests_refused_*` /
/// `requests_failed` counter. Requests refused before the receiver knows their protocol
/// (gRPC's own check of the message size as sent, HTTP request heads that do not parse)
/// are not counted.
struct OtlpReceiverStats {
  /// \brief Export requests received.
  int64_t requests = 0;
  /// \brief Requests whose spans are all in the pipeline (gRPC OK, HTTP 200).
  int64_t requests_accepted = 0;
  /// \brief Malformed requests: TraceIngest said kInvalid, or (HTTP) the body could not
  /// be read or did not decompress (gRPC INVALID_ARGUMENT, HTTP 400).
  int64_t requests_refused_invalid = 0;
  /// \brief TraceIngest said kQueueFull (gRPC RESOURCE_EXHAUSTED with RetryInfo, HTTP
  /// 429).
  int64_t requests_refused_queue_full = 0;
  /// \brief TraceIngest said kTooLarge, or (HTTP) the body exceeded
  /// `max_request_bytes` or `max_decompressed_bytes` (gRPC RESOURCE_EXHAUSTED without
  /// RetryInfo, HTTP 413).
  int64_t requests_refused_too_large = 0;
  /// \brief TraceIngest said kShuttingDown (gRPC UNAVAILABLE, HTTP 503).
  int64_t requests_refused_shutting_down = 0;
  /// \brief TraceIngest said kUnavailable: where spans go (a store) failed for now
  /// (gRPC UNAVAILABLE, HTTP 503).
  int64_t requests_refused_unavailable = 0;
  /// \brief Refused before they were read or decoded because the requests in flight
  /// held the whole RequestMemoryBudget (gRPC RESOURCE_EXHAUSTED with RetryInfo, HTTP
  /// 429 with Retry-After).
  int64_t requests_refused_memory = 0;
  /// \brief Requests that failed inside the receiver (an exception, HTTP 500); should
  /// stay 0.
  int64_t requests_failed = 0;
  /// \brief Requests that came gzip-compressed (gRPC: a gzip message, HTTP:
  /// `Content-Encoding: gzip`).
  int64_t requests_compressed = 0;

  /// \brief Spans in the requests TraceIngest looked at (IngestResult::spans), whatever
  /// became of them. Requests refused before the pipeline read them (malformed, too
  /// large for the receiver) add nothing here.
  int64_t spans_received = 0;
  /// \brief Spans of accepted requests.
  int64_t spans_accepted = 0;
  /// \brief Spans of refused requests, by the reason above (as far as the pipeline
  /// counted them before refusing).
  int64_t spans_refused_invalid = 0;
  int64_t spans_refused_queue_full = 0;
  int64_t spans_refused_too_large = 0;
  int64_t spans_refused_shutting_down = 0;
  int64_t spans_refused_unavailable = 0;

  /// \brief Request bytes as they arrived, compressed when compressed. HTTP: the body
  /// after chunked framing, including bodies refused as too large up to where reading
  /// stopped. gRPC: the request message (without gRPC's 5-byte message header).
  int64_t bytes_received_wire = 0;
  /// \brief Request bytes after decompression that were handed to TraceIngest.
  int64_t bytes_received_decompressed = 0;
};

/// \brief Counters of the OTAP (ArrowTracesService) side of an OtlpGrpcReceiver.
struct OtapReceiverStats {
  /// \brief Per BatchArrowRecords, with the meanings above (a batch is a request;
  /// `requests_refused_invalid` includes batches refused for their bearer token).
  OtlpReceiverStats batches;
  /// \brief ArrowTraces calls that started.
  int64_t streams_opened = 0;
  /// \brief ArrowTraces calls open now (a gauge).
  int64_t streams_active = 0;
  /// \brief Calls ended at once because `max_otap_streams` were open.
  int64_t streams_refused_busy = 0;
  /// \brief Calls that ended with an error status (a message that did not decode, a
  /// limit passed).
  int64_t streams_ended_with_error = 0;
  /// \brief Calls cancelled after `otap_stream_idle_timeout` without a batch.
  int64_t streams_idle_cancelled = 0;
  /// \brief Batches answered UNAUTHENTICATED.
  int64_t batches_unauthenticated = 0;
};

}  // namespace otlp_arrow::service
