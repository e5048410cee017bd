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

  /// \brief Bytes of the record batches one BatchArrowRecords decodes to (their
  /// dictionaries left out: those count above).
  ///
  /// While decoding, the stream's Arrow allocations are also capped at
  /// max_stream_dictionary_bytes + 2 × max_batch_decoded_bytes live bytes (decoded
  /// batches still held by OtapTraces included): an IPC body's declared uncompressed
  /// size is allocated before it is decompressed, so a small payload could otherwise
  /// ask for any amount. Passing the cap is a CapacityError too.
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
  /// per-span limits), without encoding them: fixed bytes per span, event, link and
  /// attribute entry (resource and scope attributes once per span), with room for the
  /// characters of a key and a value, plus nested values' OTLP/JSON. Rather above than
  /// below SpanTableEncoder::EncodedBytes() of the same rows.
  virtual int64_t EstimatedEncodedBytes() const = 0;

  /// \brief Appends every span, one row each, in the order the Go consumer
  /// (otel-arrow `arrow_record.Consumer`) rebuilds the OTLP request: its resources and
  /// scopes, attributes, events and links as Go decodes them (a repeated attribute key
  /// keeps its first position and its last value, as pcommon's PutEmpty; a null or
  /// all-zero parent span id is empty; null link ids are zeros). No OTLP objects are
  /// built: values go straight into the encoder's column writers. On failure
  /// (allocation: CapacityError; a column past 2 GiB) `encoder` is as before the call.
  /// Can be called again, on the same or another encoder.
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
  /// column and row: "SPAN_ATTRS column 'parent_id' row 17: …"; or the payload and
  /// schema_id for bytes that are not one Arrow IPC record batch: "SPANS payload
  /// (schema_id '3'): …"); Status::CapacityError when a limit of the options is passed
  /// (the stream should end: its state cannot follow the sender any more). A payload
  /// whose IPC bytes fail leaves its schema_id failed: later payloads of that schema_id
  /// are refused too (its dictionaries are lost), until the sender starts a new
  /// schema_id for the type. Refusals that name a column leave the IPC state intact.
  ///
  /// Refused where the Go consumer (v0.46.0) accepts, because data would be lost or
  /// made up: rows whose parent id matches nothing (Go drops them), two spans sharing an
  /// id with events or links (Go moves them to the first, leaves empty ones on the
  /// other), an unknown attribute type code (Go stores an empty value), a `ser` whose
  /// CBOR is not the map or slice its type says, trailing bytes after the CBOR item,
  /// a `kind` outside 0..5 or a status code outside 0..2 (the span table refuses them),
  /// attribute parent ids past the parent's id width (Go truncates them).
  virtual arrow::Result<std::shared_ptr<const OtapTraces>> Decode(
      const std::vector<OtapPayload>& payloads) = 0;

  /// \brief Bytes of IPC state (dictionaries) the stream holds now.
  virtual int64_t dictionary_bytes() const = 0;
};

}  // namespace otlp_arrow::convert
