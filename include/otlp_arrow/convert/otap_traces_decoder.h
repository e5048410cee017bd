// SPDX-License-Identifier: Apache-2.0
// OTAP (OpenTelemetry Arrow Protocol) traces → span table: the payloads of one
// BatchArrowRecords, decoded with the IPC state of their gRPC stream, appended to a
// SpanTableEncoder without OTLP protobuf objects in between. See docs/otap.md.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/convert/span_table_encoder.h"

namespace otlp_arrow::convert {

/// \brief The ArrowPayloadType numbers of the trace payloads (arrow_service.proto).
enum class OtapPayloadType : int32_t {
  kResourceAttrs = 1,
  kScopeAttrs = 2,
  kSpans = 40,
  kSpanAttrs = 41,
  kSpanEvents = 42,
  kSpanLinks = 43,
  kSpanEventAttrs = 44,
  kSpanLinkAttrs = 45,
};

/// \brief "SPANS", "SPAN_ATTRS", … for a trace payload type; "UNKNOWN(<n>)" otherwise.
std::string OtapPayloadTypeName(int32_t type);

/// \brief One ArrowPayload of a BatchArrowRecords. The views need only outlive the
/// OtapTraceStreamDecoder::Decode call.
struct OtapPayload {
  std::string_view schema_id;
  int32_t type = 0;
  /// \brief Arrow IPC stream-format messages: a Schema first when `schema_id` is new,
  /// then dictionary batches (deltas or replacements) and exactly one record batch.
  std::string_view record;
};

/// \brief Limits of one OtapTraceStreamDecoder (one gRPC stream).
struct OtapTraceStreamDecoderOptions {
  /// \brief Bytes the stream's IPC state may hold: the dictionaries (with their deltas)
  /// of every payload type. The Collector's receiver has `arrow.memory_limit_mib` 128
  /// for the same; its exporter recycles streams (30 s) long before that.
  int64_t max_stream_dictionary_bytes = int64_t{128} << 20;

  /// \brief Bytes of the record batches one BatchArrowRecords decodes to.
  int64_t max_batch_decoded_bytes = int64_t{128} << 20;

  arrow::MemoryPool* pool = arrow::default_memory_pool();

  arrow::Status Validate() const;
};

/// \brief The trace payloads of one BatchArrowRecords, decoded and validated: ids
/// resolved, every parent id pointing at a row, every column of a usable type. Appending
/// them cannot fail for their content, so they can be appended again (a gateway whose
/// queue was full retries into its next batch). Immutable; thread-safe to read.
class OtapTraces {
 public:
  virtual ~OtapTraces() = default;

  /// \brief Rows of the SPANS payload (0 for a batch without one).
  virtual int64_t num_spans() const = 0;

  /// \brief About the bytes these spans take in a span table (for the queue's size and
  /// per-span limits), without encoding them.
  virtual int64_t EstimatedEncodedBytes() const = 0;

  /// \brief Appends every span, one row each, in the order the Go consumer
  /// (otel-arrow `arrow_record.Consumer`) rebuilds the OTLP request: its resources and
  /// scopes, attributes, events and links as Go decodes them. On failure (allocation, a
  /// column past 2 GiB) `encoder` is as before the call.
  virtual arrow::Status AppendTo(SpanTableEncoder* encoder) const = 0;
};

/// \brief Decoder of one OTAP traces stream (one ArrowTracesService/ArrowTraces call):
/// per `schema_id` an Arrow IPC stream decoder, whose schemas and dictionaries carry
/// over from one BatchArrowRecords to the next. Nothing survives the stream. Not
/// thread-safe: a stream's batches are decoded in the order they arrived.
class OtapTraceStreamDecoder {
 public:
  static arrow::Result<std::unique_ptr<OtapTraceStreamDecoder>> Make(
      OtapTraceStreamDecoderOptions options = {});
  virtual ~OtapTraceStreamDecoder() = default;

  /// \brief Decodes the payloads of one BatchArrowRecords. Every payload is fed to its
  /// IPC stream before anything is checked, so that the stream's dictionaries follow the
  /// sender's even when this batch is refused.
  ///
  /// Errors: Status::Invalid for content that can never decode (names the payload type,
  /// column and row: "SPAN_ATTRS column 'parent_id' row 17: …"); Status::CapacityError
  /// when a limit of the options is passed (the stream should end: its state cannot
  /// follow the sender any more).
  virtual arrow::Result<std::shared_ptr<const OtapTraces>> Decode(
      const std::vector<OtapPayload>& payloads) = 0;

  /// \brief Bytes of IPC state (dictionaries) the stream holds now.
  virtual int64_t dictionary_bytes() const = 0;
};

}  // namespace otlp_arrow::convert
