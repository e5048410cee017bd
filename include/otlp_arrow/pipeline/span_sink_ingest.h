// SPDX-License-Identifier: Apache-2.0
// SpanSinkIngest: requests → span table → a storage::SpanSink, answered once stored.

#pragma once

#include <memory>
#include <string_view>

#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/storage/span_sink.h"

namespace otlp_arrow::pipeline {

/// \brief The TraceIngest of a process that stores spans itself (the receiver's OTAP
/// port, all-in-one's OTAP): each request is encoded into a span table of its own and
/// handed to the sink (SpanSink::AppendValidated: the encoder's output needs no second
/// check), and answered once the sink has it — for the Parquet store, once it is in the
/// write-ahead log. There is no queue in between, so no kQueueFull: a request waits for
/// the sink.
///
/// Answers: kAccepted; kInvalid for a malformed request (the encoder's or parser's
/// message) and for a batch the sink refuses for its content (Status::Invalid); kTooLarge
/// for a request whose span table would pass `max_batch_bytes`; kUnavailable when the
/// sink fails otherwise (closed, disk full: the same request may succeed later).
/// Thread-safe.
class SpanSinkIngest : public TraceIngest {
 public:
  struct Options {
    arrow::MemoryPool* memory_pool = arrow::default_memory_pool();
    /// \brief Largest span table one request may become (bytes of Arrow data); 0: no
    /// limit. The receiver passes its Flight `max_batch_bytes`, so that what it stores
    /// is bounded alike on both ports.
    int64_t max_batch_bytes = 0;
    arrow::Status Validate() const;
  };

  /// \brief Checks `options` and `sink` (not null).
  static arrow::Result<std::unique_ptr<SpanSinkIngest>> Make(
      std::shared_ptr<storage::SpanSink> sink, Options options);

  IngestResult IngestOtlpProtobuf(std::string_view request) override;
  IngestResult IngestOtlpJson(std::string_view request) override;
  IngestResult IngestOtap(
      const std::shared_ptr<const convert::OtapTraces>& traces) override;

 private:
  SpanSinkIngest(std::shared_ptr<storage::SpanSink> sink, Options options);
  IngestResult Store(const AppendSpans& append);

  std::shared_ptr<storage::SpanSink> sink_;
  Options options_;
};

}  // namespace otlp_arrow::pipeline
