// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/pipeline/batching_span_exporter.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <arrow/type.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "otlp_arrow/common/backoff.h"
#include "otlp_arrow/common/log.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"

namespace otlp_arrow::pipeline {

namespace {

using common::Clock;
using common::SaturatingAdd;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// At most one log line per interval for each kind of export failure: an unavailable
// receiver fails every export, and a line per failure would flood the log.
constexpr auto kLogInterval = std::chrono::seconds(5);

// What kShuttingDown suggests to the client: a restarted gateway, or another replica
// behind the same address, takes requests again within about this long.
constexpr milliseconds kShuttingDownRetryAfter = std::chrono::seconds(1);

int64_t Millis(Clock::Duration d) { return duration_cast<milliseconds>(d).count(); }

// A queued batch, or what is left of it after the worker took its first rows.
struct QueuedBatch {
  std::shared_ptr<arrow::RecordBatch> batch;
  // Its share of the queue's bytes; a split divides it by rows.
  int64_t bytes = 0;
  Clock::TimePoint enqueued;
  // Closed by the open batch at its end (full, or cut before a request that would cross
  // it): exported at once and alone, so that it needs no concatenation.
  bool sealed = false;
};

// The batch being exported or retried; its spans are still counted in the queue.
struct InFlight {
  std::shared_ptr<arrow::RecordBatch> batch;
  int64_t spans = 0;
  int64_t bytes = 0;
};

enum class Outcome { kDelivered, kSendFailed, kDroppedAtShutdown };

// Collects failures of one kind between log lines.
struct ThrottledLog {
  bool logged = false;
  Clock::TimePoint last;
  int64_t failures = 0;
  int64_t spans = 0;

  // Counts a failure; true when a line is due (the caller logs and calls Reset()).
  bool Record(Clock::TimePoint now, int64_t failed_spans) {
    ++failures;
    spans += failed_spans;
    if (logged && now - last < kLogInterval) return false;
    logged = true;
    last = now;
    return true;
  }
  void Reset() {
    failures = 0;
    spans = 0;
  }
};

}  // namespace

arrow::Status BatchingSpanExporterOptions::Validate() const {
  if (batch_size < 1) {
    return arrow::Status::Invalid("batch_size must be at least 1, got ", batch_size);
  }
  if (flush_interval.count() <= 0) {
    return arrow::Status::Invalid("flush_interval must be positive, got ",
                                  flush_interval.count(), " ms");
  }
  if (max_queue_spans < batch_size) {
    return arrow::Status::Invalid("max_queue_spans (", max_queue_spans,
                                  ") must be at least batch_size (", batch_size, ")");
  }
  if (max_queue_bytes < 1) {
    return arrow::Status::Invalid("max_queue_bytes must be at least 1, got ",
                                  max_queue_bytes);
  }
  if (max_enqueue_wait.count() < 0) {
    return arrow::Status::Invalid("max_enqueue_wait must not be negative, got ",
                                  max_enqueue_wait.count(), " ms");
  }
  // A zero backoff would retry an unavailable receiver in a busy loop.
  if (initial_backoff.count() <= 0 || max_backoff < initial_backoff) {
    return arrow::Status::Invalid(
        "backoff: need 0 < initial_backoff <= max_backoff, got ", initial_backoff.count(),
        " ms and ", max_backoff.count(), " ms");
  }
  if (!(backoff_multiplier >= 1.0)) {
    return arrow::Status::Invalid("backoff_multiplier must be at least 1, got ",
                                  backoff_multiplier);
  }
  if (memory_pool == nullptr) return arrow::Status::Invalid("memory_pool is null");
  if (shutdown_timeout.count() < 0) {
    return arrow::Status::Invalid("shutdown_timeout must not be negative, got ",
                                  shutdown_timeout.count(), " ms");
  }
  return arrow::Status::OK();
}

std::string ShutdownReport::ToString() const {
  return fmt::format(
      "{} spans queued at shutdown: {} delivered, {} refused permanently, {} not sent{}; "
      "{}; exporter shutdown: {}",
      spans_queued, spans_delivered, spans_send_failed, spans_not_sent,
      deadline_exceeded ? " (drain deadline exceeded)" : "", status.ToString(),
      exporter_status.ToString());
}

struct BatchingSpanExporter::Impl {
  BatchingSpanExporterOptions options;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<SpanBatchExporter> exporter;
  telemetry::Histogram export_latency;

  mutable std::mutex mutex;
  std::condition_variable worker_cv;  // the worker: new work, flush, shutdown, abort
  std::condition_variable space_cv;   // producers: room in the queue, shutdown
  std::condition_variable done_cv;    // ForceFlush/Shutdown: spans left, worker done

  // The open batch: Append() encodes requests straight into it, so that a full batch
  // is one encoder's output and needs no concatenation. Lock order: open_mutex, then
  // mutex.
  std::mutex open_mutex;
  std::unique_ptr<convert::SpanTableEncoder> open;  // guarded by open_mutex

  // Everything below is guarded by `mutex`.
  std::deque<QueuedBatch> pending;  // not yet taken by the worker
  int64_t pending_spans = 0;
  // The open batch's spans and estimated bytes (counted in the queue), and when its
  // first span came. Its spans come after every pending one.
  int64_t open_spans = 0;
  int64_t open_bytes = 0;
  Clock::TimePoint open_since;
  // Positions in the sequence of all spans ever accepted, which leave the queue in the
  // order they entered it: taken by the worker, left the queue, to be flushed.
  int64_t taken_seq = 0;
  int64_t finished_seq = 0;
  int64_t flush_seq = 0;
  bool worker_wake = false;  // set with every notification of worker_cv
  bool shutting_down = false;
  bool abort = false;  // the drain deadline passed: stop now
  bool worker_done = false;
  Clock::TimePoint drain_deadline = Clock::TimePoint::max();
  Clock::Duration backoff{0};  // of the batch being retried; zero otherwise
  arrow::Status last_error;    // of the latest failed export
  int64_t failures_in_a_row = 0;
  BatchingSpanExporterStats stats;
  ShutdownReport report;
  ThrottledLog send_failed_log;
  ThrottledLog retry_log;
  ThrottledLog operator_action_log;

  std::mutex shutdown_mutex;  // serializes Shutdown(); guards shut_down
  bool shut_down = false;
  std::thread worker;

  // --- intake -------------------------------------------------------------------------

  IngestResult Refuse(IngestResult result, IngestCode code, std::string message) {
    result.code = code;
    result.message = std::move(message);
    switch (code) {
      case IngestCode::kQueueFull:
        stats.spans_refused_queue_full += result.spans;
        // The queue drains by an export, or not before the backoff of a failing one.
        result.retry_after = std::max(duration_cast<milliseconds>(options.flush_interval),
                                      duration_cast<milliseconds>(backoff));
        break;
      case IngestCode::kTooLarge:
        stats.spans_refused_too_large += result.spans;
        break;
      case IngestCode::kShuttingDown:
        stats.spans_refused_shutting_down += result.spans;
        result.retry_after = kShuttingDownRetryAfter;
        break;
      default:
        break;
    }
    return result;
  }

  IngestResult RefuseShuttingDown(IngestResult result) {
    return Refuse(std::move(result), IngestCode::kShuttingDown,
                  "the export pipeline is shutting down");
  }
  IngestResult RefuseQueueFull(IngestResult result) {
    return Refuse(
        std::move(result), IngestCode::kQueueFull,
        fmt::format("export queue full ({} of {} spans, {} of {} bytes) for {} ms: the "
                    "receiver is slow or unavailable",
                    stats.queue_spans, options.max_queue_spans, stats.queue_bytes,
                    options.max_queue_bytes, options.max_enqueue_wait.count()));
  }
  // `result.spans` and `bytes` are the request's.
  IngestResult RefuseTooLarge(IngestResult result, int64_t bytes) {
    const int64_t spans = result.spans;
    return Refuse(
        std::move(result), IngestCode::kTooLarge,
        fmt::format("request of {} spans ({} bytes as Arrow) exceeds the "
                    "export queue's capacity of {} spans and {} bytes",
                    spans, bytes, options.max_queue_spans, options.max_queue_bytes));
  }

  IngestResult Enqueue(std::shared_ptr<arrow::RecordBatch> spans) {
    IngestResult result;
    if (spans == nullptr) {
      result.code = IngestCode::kInvalid;
      result.message = "span batch is null";
      return result;
    }
    result.spans = spans->num_rows();
    if (result.spans == 0) return result;
    // Batches of one queue are concatenated, so they must share the schema: the
    // encoder's, without the derived columns, which a whole span table leaves here
    // (they are computed where spans are stored). Encoder output has the very same
    // schema object; comparing pointers first skips the deep comparison on the hot path.
    const std::shared_ptr<arrow::Schema>& encoded = convert::EncodedSpanTableSchema();
    if (spans->schema() != encoded &&
        !spans->schema()->Equals(*encoded, /*check_metadata=*/false)) {
      if (!spans->schema()->Equals(*convert::SpanTableSchema(),
                                   /*check_metadata=*/false)) {
        result.code = IngestCode::kInvalid;
        result.message =
            "batch is not a span table (convert::EncodedSpanTableSchema() or "
            "convert::SpanTableSchema())";
        return result;
      }
      spans = convert::WithoutDerivedTimeColumns(*spans);
    }
    const int64_t bytes = arrow::util::TotalBufferSize(*spans);

    // Spans appended before this batch leave before it.
    std::unique_lock<std::mutex> open_lock(open_mutex);
    CloseOpenBatch();
    std::unique_lock<std::mutex> lock(mutex);
    open_lock.unlock();
    if (shutting_down) {
      return RefuseShuttingDown(std::move(result));
    }
    if (result.spans > options.max_queue_spans || bytes > options.max_queue_bytes) {
      return RefuseTooLarge(std::move(result), bytes);
    }
    auto fits = [&] { return Fits(result.spans, bytes); };
    if (!fits()) {
      clock->WaitUntil(lock, space_cv,
                       SaturatingAdd(clock->Now(), options.max_enqueue_wait),
                       [&] { return shutting_down || fits(); });
      if (shutting_down) {
        return RefuseShuttingDown(std::move(result));
      }
      if (!fits()) {
        return RefuseQueueFull(std::move(result));
      }
    }
    // The worker's decision changes only when the queue stops being empty (a flush
    // time appears) or a full batch is reached; other arrivals need no wake-up.
    const bool wake =
        pending.empty() || (pending_spans < options.batch_size &&
                            pending_spans + result.spans >= options.batch_size);
    pending.push_back(QueuedBatch{std::move(spans), bytes, clock->Now()});
    pending_spans += result.spans;
    stats.queue_spans += result.spans;
    stats.queue_bytes += bytes;
    stats.spans_enqueued += result.spans;
    ++stats.batches_enqueued;
    if (wake) {
      worker_wake = true;
      worker_cv.notify_one();
    }
    return result;
  }

  bool Fits(int64_t spans, int64_t bytes) const {
    return stats.queue_spans + spans <= options.max_queue_spans &&
           stats.queue_bytes + bytes <= options.max_queue_bytes;
  }

  IngestResult Append(const AppendSpans& append) {
    IngestResult result;
    const Clock::TimePoint wait_until =
        SaturatingAdd(clock->Now(), options.max_enqueue_wait);
    while (true) {
      std::unique_lock<std::mutex> open_lock(open_mutex);
      const int64_t rows_before = open->num_rows();
      const int64_t bytes_before = open->EncodedBytes();
      const convert::SpanTableEncoder::Checkpoint checkpoint = open->SaveCheckpoint();
      arrow::Status status = append(*open);
      if (!status.ok()) {
        open->RollbackTo(checkpoint);
        result.code =
            status.IsCapacityError() ? IngestCode::kTooLarge : IngestCode::kInvalid;
        result.message = status.message();
        return result;
      }
      const int64_t spans = open->num_rows() - rows_before;
      const int64_t bytes = open->EncodedBytes() - bytes_before;
      result.spans = spans;
      if (spans == 0) return result;
      if (rows_before > 0 && rows_before + spans > options.batch_size) {
        // The request would cross the batch's end: the batch goes to the queue as it
        // was and the request starts the next one, encoded again (one request in
        // batch_size / request size), so that exports need no concatenation.
        open->RollbackTo(checkpoint);
        CloseOpenBatch(/*sealed=*/true);
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex);
      if (shutting_down) {
        open->RollbackTo(checkpoint);
        return RefuseShuttingDown(std::move(result));
      }
      if (spans > options.max_queue_spans || bytes > options.max_queue_bytes) {
        open->RollbackTo(checkpoint);
        return RefuseTooLarge(std::move(result), bytes);
      }
      if (!Fits(spans, bytes)) {
        // Wait for room without holding the open batch, which the worker may have to
        // send to make room; then encode again.
        open->RollbackTo(checkpoint);
        open_lock.unlock();
        clock->WaitUntil(lock, space_cv, wait_until,
                         [&] { return shutting_down || Fits(spans, bytes); });
        if (shutting_down) {
          return RefuseShuttingDown(std::move(result));
        }
        if (!Fits(spans, bytes)) {
          return RefuseQueueFull(std::move(result));
        }
        continue;
      }
      stats.queue_spans += spans;
      stats.queue_bytes += bytes;
      stats.spans_enqueued += spans;
      ++stats.batches_enqueued;
      open_spans += spans;
      open_bytes += bytes;
      if (rows_before == 0) {
        // A flush time appears: the worker must know.
        open_since = clock->Now();
        worker_wake = true;
        worker_cv.notify_one();
      }
      lock.unlock();
      if (open->num_rows() >= options.batch_size) CloseOpenBatch(/*sealed=*/true);
      return result;
    }
  }

  // Moves the open batch to the queue; `sealed` when it is as full as it gets. Called
  // with open_mutex held, not mutex.
  void CloseOpenBatch(bool sealed = false) {
    if (open->num_rows() == 0) return;
    arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch = open->Finish();
    std::lock_guard<std::mutex> lock(mutex);
    const int64_t spans = open_spans;
    const int64_t estimated_bytes = open_bytes;
    open_spans = open_bytes = 0;
    if (!batch.ok()) {
      // Out of memory: the appends' checks make anything else impossible. The spans
      // were accepted and are lost; counted like a failed export.
      ++stats.export_failures;
      last_error = batch.status();
      taken_seq += spans;
      LeaveQueue(spans, estimated_bytes, Outcome::kSendFailed);
      LogSendFailed(spans, last_error);
      return;
    }
    const int64_t bytes = arrow::util::TotalBufferSize(**batch);
    stats.queue_bytes += bytes - estimated_bytes;
    const bool wake =
        sealed || pending.empty() || pending_spans + spans >= options.batch_size;
    pending.push_back(
        QueuedBatch{std::move(batch).ValueUnsafe(), bytes, open_since, sealed});
    pending_spans += spans;
    if (wake) {
      worker_wake = true;
      worker_cv.notify_one();
    }
  }

  // The worker sends the open batch to the queue. Called with `lock` on mutex.
  void FlushOpenBatch(std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    {
      std::lock_guard<std::mutex> open_lock(open_mutex);
      CloseOpenBatch();
    }
    lock.lock();
  }

  // --- worker -------------------------------------------------------------------------

  // Whether the open batch must go to the queue now: it waited flush_interval, or a
  // flush or shutdown wants its spans. (A full batch is closed by its last Append.)
  bool OpenBatchDue(Clock::TimePoint now) const {
    if (open_spans == 0) return false;
    return shutting_down || taken_seq + pending_spans < flush_seq ||
           now >= SaturatingAdd(open_since, options.flush_interval);
  }

  bool ReadyToExport(Clock::TimePoint now) const {
    if (pending.empty()) return false;
    return pending.front().sealed || pending_spans >= options.batch_size ||
           shutting_down || taken_seq < flush_seq ||
           now >= SaturatingAdd(pending.front().enqueued, options.flush_interval);
  }

  bool Stopping() const {
    return abort || (shutting_down && clock->Now() >= drain_deadline);
  }

  Clock::Duration Backoff(int retry) const {
    return duration_cast<Clock::Duration>(common::ExponentialBackoff(
        options.initial_backoff, options.max_backoff, options.backoff_multiplier, retry));
  }

  // Spans leave the queue: delivered or dropped.
  void LeaveQueue(int64_t spans, int64_t bytes, Outcome outcome) {
    if (spans == 0) return;
    stats.queue_spans -= spans;
    stats.queue_bytes -= bytes;
    finished_seq += spans;
    switch (outcome) {
      case Outcome::kDelivered:
        stats.spans_exported += spans;
        if (shutting_down) report.spans_delivered += spans;
        break;
      case Outcome::kSendFailed:
        stats.spans_send_failed += spans;
        if (shutting_down) report.spans_send_failed += spans;
        break;
      case Outcome::kDroppedAtShutdown:
        stats.spans_dropped_at_shutdown += spans;
        report.spans_not_sent += spans;
        break;
    }
    space_cv.notify_all();
    done_cv.notify_all();
  }

  // The first `rows` rows of the batch in flight leave the queue.
  void Retire(InFlight* in_flight, int64_t rows, Outcome outcome) {
    rows = std::min(rows, in_flight->spans);
    if (rows <= 0) return;
    const int64_t bytes = rows == in_flight->spans
                              ? in_flight->bytes
                              : in_flight->bytes * rows / in_flight->spans;
    in_flight->spans -= rows;
    in_flight->bytes -= bytes;
    in_flight->batch = in_flight->spans > 0 && in_flight->batch
                           ? in_flight->batch->Slice(rows)
                           : nullptr;
    LeaveQueue(rows, bytes, outcome);
  }

  // Moves up to batch_size spans from the head of the queue into
  // `in_flight`; returns the batches (or slices) to concatenate.
  std::vector<std::shared_ptr<arrow::RecordBatch>> Take(InFlight* in_flight) {
    std::vector<std::shared_ptr<arrow::RecordBatch>> parts;
    while (!pending.empty() && in_flight->spans < options.batch_size) {
      QueuedBatch& front = pending.front();
      if (front.sealed && !parts.empty()) break;
      const int64_t rows = front.batch->num_rows();
      const int64_t room = options.batch_size - in_flight->spans;
      if (rows <= room) {
        const bool sealed = front.sealed;
        parts.push_back(std::move(front.batch));
        in_flight->spans += rows;
        in_flight->bytes += front.bytes;
        pending.pop_front();
        if (sealed) break;
      } else {
        const int64_t bytes = front.bytes * room / rows;
        parts.push_back(front.batch->Slice(0, room));
        front.batch = front.batch->Slice(room);
        front.bytes -= bytes;
        in_flight->spans += room;
        in_flight->bytes += bytes;
      }
    }
    pending_spans -= in_flight->spans;
    taken_seq += in_flight->spans;
    return parts;
  }

  void LogSendFailed(int64_t spans, const arrow::Status& error) {
    if (!send_failed_log.Record(clock->Now(), spans)) return;
    // Logged under the mutex: at most one line per kLogInterval, not worth the
    // bookkeeping of logging outside it.
    spdlog::warn(
        "span export failed permanently: dropped {} spans in {} exports since the last "
        "report; last error: {}",
        send_failed_log.spans, send_failed_log.failures, error.ToString());
    send_failed_log.Reset();
  }

  void LogRetry(int64_t spans, Clock::Duration wait, const arrow::Status& error) {
    if (!retry_log.Record(clock->Now(), spans)) return;
    spdlog::warn(
        "span export failed ({} retryable failures since the last report); retrying {} "
        "spans in {} ms, {} spans queued; last error: {}",
        retry_log.failures, spans, Millis(wait), stats.queue_spans, error.ToString());
    retry_log.Reset();
  }

  // An error level line: nothing heals by itself here, an operator must act.
  void LogOperatorAction(int64_t spans, Clock::Duration wait,
                         const arrow::Status& error) {
    if (!operator_action_log.Record(clock->Now(), spans)) return;
    spdlog::error(
        "the receiver refuses this gateway's credentials ({} refused exports since the "
        "last report): fix auth.token_file (or the TLS client certificate) so that "
        "gateway and receiver agree; {} spans kept, retrying in {} ms, {} spans queued; "
        "last error: {}",
        operator_action_log.failures, spans, Millis(wait), stats.queue_spans,
        error.ToString());
    operator_action_log.Reset();
  }

  // Waits out a retry backoff. False when the drain deadline passed or abort was set.
  bool WaitBackoff(std::unique_lock<std::mutex>& lock, Clock::Duration wait) {
    const Clock::TimePoint until = SaturatingAdd(clock->Now(), wait);
    while (true) {
      if (Stopping()) return false;
      if (clock->Now() >= until) return true;
      // Recomputed on every wake-up: Shutdown() may have set a nearer deadline.
      const Clock::TimePoint deadline =
          shutting_down ? std::min(until, drain_deadline) : until;
      worker_wake = false;
      clock->WaitUntil(lock, worker_cv, deadline,
                       [this] { return worker_wake || abort; });
    }
  }

  void ExportNext(std::unique_lock<std::mutex>& lock) {
    InFlight in_flight;
    std::vector<std::shared_ptr<arrow::RecordBatch>> parts = Take(&in_flight);
    lock.unlock();
    arrow::Result<std::shared_ptr<arrow::RecordBatch>> concatenated =
        parts.size() == 1 ? arrow::Result<std::shared_ptr<arrow::RecordBatch>>(parts[0])
                          : arrow::ConcatenateRecordBatches(parts);
    parts.clear();
    lock.lock();
    if (!concatenated.ok()) {
      // Out of memory, or string offsets past 2 GiB (only possible with a
      // max_queue_bytes that large): the batch cannot be sent and is lost.
      ++stats.export_failures;
      last_error = concatenated.status();
      const int64_t spans = in_flight.spans;
      Retire(&in_flight, spans,
             Stopping() ? Outcome::kDroppedAtShutdown : Outcome::kSendFailed);
      LogSendFailed(spans, last_error);
      return;
    }
    in_flight.batch = std::move(concatenated).ValueUnsafe();

    for (int retry = 1;; ++retry) {
      lock.unlock();
      const Clock::TimePoint started = clock->Now();
      const transport::ExportResult result = exporter->Export(in_flight.batch);
      export_latency.Observe(
          std::chrono::duration<double>(clock->Now() - started).count());
      lock.lock();

      stats.retries += result.retries;
      stats.bytes_sent_raw += result.bytes_raw;
      stats.bytes_sent_compressed += result.bytes_sent;
      if (result.ok()) {
        ++stats.batches_exported;
        backoff = Clock::Duration{0};
        if (failures_in_a_row > 0) {
          // Failures were logged; say that they are over.
          spdlog::info("span export succeeded again after {} failed exports",
                       failures_in_a_row);
          failures_in_a_row = 0;
        }
        Retire(&in_flight, in_flight.spans, Outcome::kDelivered);
        return;
      }
      ++stats.export_failures;
      ++failures_in_a_row;
      last_error = result.status;
      // Acknowledged rows are stored: sending them again would duplicate them.
      Retire(&in_flight, result.spans_acknowledged, Outcome::kDelivered);
      if (in_flight.spans == 0) return;
      const bool stopping = Stopping();
      if (!result.retryable || stopping) {
        const int64_t spans = in_flight.spans;
        Retire(&in_flight, spans,
               stopping ? Outcome::kDroppedAtShutdown : Outcome::kSendFailed);
        if (!stopping) LogSendFailed(spans, last_error);
        return;
      }
      backoff = Backoff(retry);
      if (result.operator_action) {
        ++stats.operator_action_failures;
        LogOperatorAction(in_flight.spans, backoff, last_error);
      } else {
        LogRetry(in_flight.spans, backoff, last_error);
      }
      if (!WaitBackoff(lock, backoff)) {
        Retire(&in_flight, in_flight.spans, Outcome::kDroppedAtShutdown);
        return;
      }
      ++stats.retries;
    }
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      const Clock::TimePoint now = clock->Now();
      if (abort || (shutting_down &&
                    ((pending.empty() && open_spans == 0) || now >= drain_deadline))) {
        break;
      }
      if (ReadyToExport(now)) {
        ExportNext(lock);
        continue;
      }
      if (OpenBatchDue(now)) {
        FlushOpenBatch(lock);
        continue;
      }
      Clock::TimePoint deadline =
          pending.empty()
              ? Clock::TimePoint::max()
              : SaturatingAdd(pending.front().enqueued, options.flush_interval);
      if (open_spans > 0) {
        deadline = std::min(deadline, SaturatingAdd(open_since, options.flush_interval));
      }
      worker_wake = false;
      clock->WaitUntil(lock, worker_cv, deadline,
                       [this] { return worker_wake || abort; });
    }
    // Past the deadline: what is still queued is dropped, and counted; the open batch
    // joins the queue first.
    if (open_spans > 0) FlushOpenBatch(lock);
    int64_t bytes = 0;
    for (const QueuedBatch& queued : pending) bytes += queued.bytes;
    const int64_t spans = pending_spans;
    pending.clear();
    pending_spans = 0;
    taken_seq += spans;
    LeaveQueue(spans, bytes, Outcome::kDroppedAtShutdown);
    worker_done = true;
    done_cv.notify_all();
  }

  // --- flush and shutdown -------------------------------------------------------------

  bool ForceFlush(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    const int64_t target = stats.spans_enqueued;
    if (finished_seq >= target) return true;
    flush_seq = std::max(flush_seq, target);
    worker_wake = true;
    worker_cv.notify_one();
    return clock->WaitUntil(lock, done_cv, SaturatingAdd(clock->Now(), timeout),
                            [&] { return finished_seq >= target; });
  }

  ShutdownReport Shutdown(milliseconds timeout) {
    std::lock_guard<std::mutex> serial(shutdown_mutex);
    if (shut_down) {
      std::lock_guard<std::mutex> lock(mutex);
      return report;
    }
    bool finished_in_time = false;
    {
      std::unique_lock<std::mutex> lock(mutex);
      shutting_down = true;
      drain_deadline = SaturatingAdd(clock->Now(), timeout);
      report.spans_queued = stats.queue_spans;
      worker_wake = true;
      worker_cv.notify_all();
      space_cv.notify_all();
      finished_in_time =
          clock->WaitUntil(lock, done_cv, drain_deadline, [this] { return worker_done; });
      if (!finished_in_time) {
        abort = true;
        worker_wake = true;
        worker_cv.notify_all();
      }
    }
    // Interrupts an export still running at the deadline (or just closes connections).
    arrow::Status exporter_status = exporter->Shutdown();
    if (worker.joinable()) worker.join();

    std::lock_guard<std::mutex> lock(mutex);
    report.exporter_status = std::move(exporter_status);
    report.deadline_exceeded = !finished_in_time || report.spans_not_sent > 0;
    const int64_t undelivered = report.spans_send_failed + report.spans_not_sent;
    if (undelivered > 0) {
      report.status = arrow::Status::IOError(
          undelivered, " of ", report.spans_queued, " queued spans not delivered (",
          report.spans_send_failed, " refused permanently, ", report.spans_not_sent,
          " still queued at the drain deadline of ", timeout.count(),
          " ms); last export error: ", last_error.ToString());
    }
    if (send_failed_log.failures > 0) {
      spdlog::warn("span export failed permanently: dropped {} spans in {} exports",
                   send_failed_log.spans, send_failed_log.failures);
      send_failed_log.Reset();
    }
    if (report.ok()) {
      spdlog::debug("span exporter shut down: {}", report.ToString());
    } else {
      spdlog::warn("span exporter shut down: {}", report.ToString());
    }
    shut_down = true;
    return report;
  }
};

arrow::Result<std::unique_ptr<BatchingSpanExporter>> BatchingSpanExporter::Make(
    BatchingSpanExporterOptions options, std::shared_ptr<SpanBatchExporter> exporter) {
  ARROW_RETURN_NOT_OK(options.Validate());
  if (exporter == nullptr) return arrow::Status::Invalid("SpanBatchExporter is null");
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock != nullptr ? options.clock : Clock::Steady();
  impl->exporter = std::move(exporter);
  impl->open = std::make_unique<convert::SpanTableEncoder>(options.memory_pool);
  impl->stats.queue_capacity_spans = options.max_queue_spans;
  impl->stats.queue_capacity_bytes = options.max_queue_bytes;
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->worker = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<BatchingSpanExporter>(new BatchingSpanExporter(std::move(impl)));
}

BatchingSpanExporter::BatchingSpanExporter(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

BatchingSpanExporter::~BatchingSpanExporter() {
  bool shut_down = false;
  {
    std::lock_guard<std::mutex> serial(impl_->shutdown_mutex);
    shut_down = impl_->shut_down;
  }
  // An earlier Shutdown() returned its report; only a drain done here is logged.
  const ShutdownReport report = Shutdown();
  if (!shut_down) common::LogErrorFromDestructor("BatchingSpanExporter", report.status);
}

IngestResult BatchingSpanExporter::Enqueue(std::shared_ptr<arrow::RecordBatch> spans) {
  return impl_->Enqueue(std::move(spans));
}

IngestResult BatchingSpanExporter::Append(const AppendSpans& append) {
  return impl_->Append(append);
}

bool BatchingSpanExporter::ForceFlush(std::chrono::milliseconds timeout) {
  return impl_->ForceFlush(timeout);
}

ShutdownReport BatchingSpanExporter::Shutdown(std::chrono::milliseconds timeout) {
  return impl_->Shutdown(timeout);
}

ShutdownReport BatchingSpanExporter::Shutdown() {
  return impl_->Shutdown(impl_->options.shutdown_timeout);
}

BatchingSpanExporterStats BatchingSpanExporter::Stats() const {
  BatchingSpanExporterStats stats;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    stats = impl_->stats;
  }
  stats.export_latency_seconds = impl_->export_latency.Snapshot();
  return stats;
}

const BatchingSpanExporterOptions& BatchingSpanExporter::options() const {
  return impl_->options;
}

}  // namespace otlp_arrow::pipeline
