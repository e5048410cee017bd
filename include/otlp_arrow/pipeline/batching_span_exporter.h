// SPDX-License-Identifier: Apache-2.0
// BatchingSpanExporter: the gateway's bounded export queue. OTLP requests come in as
// small span-table batches; one worker thread sends them on in large batches, retries
// while the receiver is unavailable, and pushes back on producers when the queue is full.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/pipeline/span_batch_exporter.h"
#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/telemetry/histogram.h"

namespace otlp_arrow::pipeline {

/// \brief Configuration of a BatchingSpanExporter (after opentelemetry-cpp's
/// BatchSpanProcessorOptions). An aggregate: `BatchingSpanExporterOptions{
/// .batch_size = 1024}` works.
struct BatchingSpanExporterOptions {
  /// \brief Largest batch sent in one export (key `batch_size`); an export
  /// starts as soon as this many spans are queued.
  int64_t batch_size = 8192;

  /// \brief Spans wait at most this long for a batch to fill: an export starts when
  /// the oldest queued span has been queued this long.
  std::chrono::milliseconds flush_interval = std::chrono::seconds(1);

  /// \brief Capacity of the queue in spans (the seed's `buffer_size`), including the
  /// batch being exported or retried. At least `batch_size`.
  int64_t max_queue_spans = 65536;

  /// \brief Capacity of the queue in bytes of Arrow data
  /// (arrow::util::TotalBufferSize of each queued batch), including the batch being
  /// exported. The export itself holds one more copy of at most one export batch (the
  /// concatenation of the queued batches it takes).
  int64_t max_queue_bytes = int64_t{256} << 20;

  /// \brief How long Enqueue() waits for room in a full queue before refusing the
  /// batch (kQueueFull). Zero: refuse at once.
  std::chrono::milliseconds max_enqueue_wait = std::chrono::seconds(1);

  /// \brief Backoff before the first retry of a batch whose export failed with a
  /// retryable error. These retries come on top of the SpanBatchExporter's own (a
  /// FlightSpanExporter retries `max_retries` times per export); they go on until the
  /// batch is delivered or Shutdown's deadline passes.
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(1);

  /// \brief Largest backoff between retries of one batch.
  std::chrono::milliseconds max_backoff = std::chrono::seconds(10);

  /// \brief Growth of the backoff per retry: retry n (1-based) waits
  /// min(max_backoff, initial_backoff * multiplier^(n-1)). No jitter: the
  /// FlightSpanExporter below already spreads its retries with full jitter.
  double backoff_multiplier = 2.0;

  /// \brief Drain deadline of Shutdown() without an argument and of the destructor.
  /// 15 s plus one FlightSpanExporter call timeout (10 s by default) stays within
  /// Kubernetes' default termination grace period of 30 s.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(15);

  /// \brief Time source of every interval, backoff and deadline above. Null: the steady
  /// clock. Tests inject a ManualClock.
  std::shared_ptr<common::Clock> clock;

  /// \brief Memory of the batch that Append() builds.
  arrow::MemoryPool* memory_pool = arrow::default_memory_pool();

  /// \brief Checks the ranges above.
  arrow::Status Validate() const;

  /// \brief The values above.
  static BatchingSpanExporterOptions Defaults() { return {}; }
};

/// \brief Counters and gauges of a BatchingSpanExporter since it was made, for the
/// Prometheus endpoint. Spans taken in are accounted for exactly once:
/// `spans_enqueued == spans_exported + spans_send_failed + spans_dropped_at_shutdown +
/// queue_spans` in every snapshot.
struct BatchingSpanExporterStats {
  // --- intake ---
  /// \brief Spans accepted into the queue (Enqueue() answered kAccepted).
  int64_t spans_enqueued = 0;
  /// \brief Batches (OTLP requests) accepted into the queue; empty batches not counted.
  int64_t batches_enqueued = 0;
  /// \brief Spans refused because the queue stayed full for `max_enqueue_wait`.
  int64_t spans_refused_queue_full = 0;
  /// \brief Spans refused because their batch alone exceeds the queue's capacity.
  int64_t spans_refused_too_large = 0;
  /// \brief Spans refused because Shutdown() had begun.
  int64_t spans_refused_shutting_down = 0;

  // --- queue (gauges) ---
  /// \brief Spans in the queue now, including the batch being exported or retried.
  int64_t queue_spans = 0;
  /// \brief Arrow bytes in the queue now, on the same terms as `max_queue_bytes`.
  int64_t queue_bytes = 0;
  /// \brief `max_queue_spans`.
  int64_t queue_capacity_spans = 0;
  /// \brief `max_queue_bytes`.
  int64_t queue_capacity_bytes = 0;

  // --- export ---
  /// \brief Export calls that delivered their whole batch.
  int64_t batches_exported = 0;
  /// \brief Spans the receiver acknowledged, also those of a partly delivered batch.
  int64_t spans_exported = 0;
  /// \brief Export calls that did not deliver their whole batch (retryable or not).
  int64_t export_failures = 0;
  /// \brief Retries: those inside the SpanBatchExporter's calls
  /// (transport::ExportResult::retries) plus the batching layer's own re-exports.
  int64_t retries = 0;
  /// \brief Export calls refused for the gateway's credentials
  /// (transport::ExportResult::operator_action: authentication, permission). Also in
  /// `export_failures`; the batch stays queued and is retried.
  int64_t operator_action_failures = 0;
  /// \brief Spans dropped after a permanent export failure (or an error before sending).
  int64_t spans_send_failed = 0;
  /// \brief Spans still queued when Shutdown()'s deadline passed, dropped.
  int64_t spans_dropped_at_shutdown = 0;
  /// \brief Arrow IPC body bytes written, before compression, resends included
  /// (transport::ExportResult::bytes_raw).
  int64_t bytes_sent_raw = 0;
  /// \brief Arrow IPC body bytes written after compression: what went on the wire
  /// besides IPC metadata and gRPC framing (transport::ExportResult::bytes_sent).
  int64_t bytes_sent_compressed = 0;
  /// \brief Duration of each export call in seconds, failed ones included, as measured
  /// by the exporter's Clock.
  telemetry::HistogramSnapshot export_latency_seconds;
};

/// \brief What Shutdown() did with the spans queued when it began.
/// `spans_queued == spans_delivered + spans_send_failed + spans_not_sent`.
struct [[nodiscard]] ShutdownReport {
  /// \brief Spans in the queue (including an export in flight) when Shutdown() began.
  int64_t spans_queued = 0;
  /// \brief Of those, spans the receiver acknowledged during the drain.
  int64_t spans_delivered = 0;
  /// \brief Of those, spans dropped after a permanent export failure during the drain.
  int64_t spans_send_failed = 0;
  /// \brief Of those, spans still unsent when the deadline passed, dropped.
  int64_t spans_not_sent = 0;
  /// \brief The drain was cut off by the deadline.
  bool deadline_exceeded = false;
  /// \brief Why spans were not delivered: OK when every queued span was; otherwise an
  /// error with the counts and the last export error.
  arrow::Status status;
  /// \brief What SpanBatchExporter::Shutdown() returned.
  arrow::Status exporter_status;

  bool ok() const { return status.ok(); }
  std::string ToString() const;
};

/// \brief Adds spans to the batch being built: calls one of the encoder's Append
/// methods (or several), and returns what it returned.
using AppendSpans = std::function<arrow::Status(convert::SpanTableEncoder& encoder)>;

/// \brief A bounded queue of span-table batches with one export thread.
///
/// **Intake.** Append() encodes a request straight into the batch being built (the
/// open batch), which joins the queue when it holds `batch_size` spans, when its first
/// span has waited `flush_interval`, on ForceFlush() and at Shutdown(); so a full batch
/// is one encoder's output and no concatenation is needed. Enqueue() takes a batch
/// made elsewhere. Both take a request whole or not at all. It waits up to
/// `max_enqueue_wait` for room (backpressure), then refuses with kQueueFull; a batch
/// bigger than the whole queue is refused at once (kTooLarge); after Shutdown() began,
/// kShuttingDown. Thread-safe.
///
/// **Export.** The worker exports when `batch_size` spans are queued, when a sealed
/// open batch is queued, when the oldest queued span has waited `flush_interval`, on
/// ForceFlush() and during Shutdown(). A sealed batch goes alone (split only if a single
/// request made it larger than `batch_size`); other queued batches are taken in order up
/// to `batch_size` spans (splitting the last one if needed) and concatenated into one
/// batch, so rows reach the receiver in the order they were enqueued.
///
/// **No span is lost silently.** A retryable failure keeps the batch at the head of the
/// queue and retries it after an exponential backoff until it is delivered or
/// Shutdown()'s deadline passes; rows the receiver already acknowledged are not sent
/// again. While it retries the queue fills and producers get backpressure. A refusal of
/// the credentials (authentication, permission: ExportResult::operator_action) is
/// retryable too, since the spans are fine: it is counted in
/// `operator_action_failures` and logged as an error. A permanent failure drops the
/// batch, counts it in `spans_send_failed` and logs. Each kind logs at most one line
/// per 5 s, with counts.
class BatchingSpanExporter {
 public:
  /// \brief Checks `options` and starts the worker thread.
  static arrow::Result<std::unique_ptr<BatchingSpanExporter>> Make(
      BatchingSpanExporterOptions options, std::shared_ptr<SpanBatchExporter> exporter);

  /// \brief Shutdown() with `shutdown_timeout`.
  ~BatchingSpanExporter();
  BatchingSpanExporter(const BatchingSpanExporter&) = delete;
  BatchingSpanExporter& operator=(const BatchingSpanExporter&) = delete;

  /// \brief Queues `spans`, a span-table batch (convert::SpanTableSchema(); the schema
  /// is checked, the contents are trusted: SpanTableEncoder output is valid by
  /// construction). An empty batch is accepted and not queued. Blocks up to
  /// `max_enqueue_wait` while the queue is full. `spans` in the result is the batch's
  /// row count; `retry_after` is set for kQueueFull and kShuttingDown.
  IngestResult Enqueue(std::shared_ptr<arrow::RecordBatch> spans);

  /// \brief Appends one request's spans to the open batch with `append`, under the
  /// same rules as Enqueue(): backpressure, kQueueFull, kTooLarge, kShuttingDown. If
  /// `append` fails, every row it appended is rolled back and the result is kInvalid
  /// (kTooLarge for a CapacityError) with its message; the other requests' spans stay.
  /// `append` may run more than once for one call (again after waiting for room, or to
  /// start a new batch rather than cross the end of a full one), so it must append the
  /// same spans each time. `spans` in the result is the request's row count.
  IngestResult Append(const AppendSpans& append);

  /// \brief Exports everything queued now without waiting for a batch to fill, and
  /// waits up to `timeout`. Returns true when every span queued at the call has left
  /// the queue in time: delivered, or dropped after a permanent failure (which
  /// Stats() counts). A receiver that stays unavailable makes it return false.
  bool ForceFlush(std::chrono::milliseconds timeout);

  /// \brief Refuses new spans, sends everything queued within `timeout` and stops the
  /// worker. At the deadline it stops retrying and calls SpanBatchExporter::Shutdown(),
  /// which interrupts an export in flight (a FlightSpanExporter ends its backoff at
  /// once but lets a running DoPut end, which its call timeout bounds). Idempotent:
  /// later calls return the first call's report.
  ShutdownReport Shutdown(std::chrono::milliseconds timeout);
  /// \brief Shutdown(options().shutdown_timeout).
  ShutdownReport Shutdown();

  /// \brief A consistent snapshot of the counters (the histogram may lag by the
  /// observations in flight).
  BatchingSpanExporterStats Stats() const;

  const BatchingSpanExporterOptions& options() const;

 private:
  struct Impl;
  explicit BatchingSpanExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::pipeline
