// SPDX-License-Identifier: Apache-2.0
// Shared by the pipeline tests: named span batches and a scriptable SpanBatchExporter.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/pipeline/span_batch_exporter.h"

namespace otlp_arrow::pipeline::testing {

using common::Clock;
using common::ManualClock;
using std::chrono::milliseconds;

/// The seed workload with span i named "<tag>-<i>", so that every row is recognisable.
inline otlp::ExportTraceServiceRequest NamedRequest(int64_t count,
                                                    const std::string& tag) {
  otlp::ExportTraceServiceRequest request = model::SeedSpans(count);
  auto* spans =
      request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  for (int i = 0; i < spans->size(); ++i) {
    spans->Mutable(i)->set_name(tag + "-" + std::to_string(i));
  }
  return request;
}

inline std::vector<std::string> SpanNames(int64_t count, const std::string& tag) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < count; ++i) names.push_back(tag + "-" + std::to_string(i));
  return names;
}

inline std::shared_ptr<arrow::RecordBatch> NamedSpans(int64_t count,
                                                      const std::string& tag) {
  auto batch = convert::SpanTableEncoder::Encode(NamedRequest(count, tag));
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return batch.ok() ? *batch : nullptr;
}

/// The `name` column of rows [0, rows) of `batch` (all rows when negative).
inline std::vector<std::string> Names(const arrow::RecordBatch& batch,
                                      int64_t rows = -1) {
  const auto& names = static_cast<const arrow::StringArray&>(
      *batch.GetColumnByName(std::string(convert::column::kName)));
  std::vector<std::string> out;
  const int64_t n = rows < 0 ? batch.num_rows() : std::min(rows, batch.num_rows());
  for (int64_t i = 0; i < n; ++i) out.emplace_back(names.GetView(i));
  return out;
}

inline std::vector<std::string> Concat(std::vector<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

/// A SpanBatchExporter that answers from a script and records what it was given.
class FakeSpanBatchExporter : public SpanBatchExporter {
 public:
  enum class Kind {
    kSuccess,
    kRetryable,       // failed, retryable=true
    kOperatorAction,  // failed, retryable=true, operator_action=true
    kPermanent,       // failed, retryable=false
    kError,           // bad input: failed with nothing tried
  };
  struct Response {
    Kind kind = Kind::kSuccess;
    // For failures: rows acknowledged before the failure (a prefix of the batch).
    int64_t acknowledged = 0;
  };
  struct Call {
    std::shared_ptr<arrow::RecordBatch> batch;
    Clock::TimePoint time;
  };

  /// `clock`: what call times are read from, and what `latency` advances.
  explicit FakeSpanBatchExporter(std::shared_ptr<ManualClock> clock = nullptr)
      : clock_(std::move(clock)) {}

  /// Answers of the next calls, in order; afterwards `fallback`.
  void Script(std::vector<Response> responses) {
    std::lock_guard lock(mutex_);
    script_.insert(script_.end(), responses.begin(), responses.end());
  }
  void set_fallback(Response response) {
    std::lock_guard lock(mutex_);
    fallback_ = response;
  }
  /// Export blocks until Unblock() or Shutdown().
  void Block() {
    std::lock_guard lock(mutex_);
    blocked_ = true;
  }
  void Unblock() {
    {
      std::lock_guard lock(mutex_);
      blocked_ = false;
    }
    cv_.notify_all();
  }
  /// Each Export advances the ManualClock by this much (the export's duration).
  void set_latency(Clock::Duration latency) {
    std::lock_guard lock(mutex_);
    latency_ = latency;
  }
  /// ExportResult::retries reported by each call (the transport's own retries).
  void set_inner_retries(int retries) {
    std::lock_guard lock(mutex_);
    inner_retries_ = retries;
  }

  transport::ExportResult Export(
      const std::shared_ptr<arrow::RecordBatch>& spans) override {
    Response response;
    Clock::Duration latency{0};
    int inner_retries = 0;
    {
      std::unique_lock lock(mutex_);
      if (shut_down_) {
        return transport::ExportResult::NothingSent(
            arrow::Status::Cancelled("fake exporter is shut down"), spans->num_rows());
      }
      calls_.push_back({spans, clock_ ? clock_->Now() : Clock::TimePoint{}});
      cv_.notify_all();
      cv_.wait(lock, [this] { return !blocked_ || shut_down_; });
      if (shut_down_) {
        return transport::ExportResult::NothingSent(
            arrow::Status::Cancelled("fake exporter shut down mid-export"),
            spans->num_rows());
      }
      if (!script_.empty()) {
        response = script_.front();
        script_.pop_front();
      } else {
        response = fallback_;
      }
      latency = latency_;
      inner_retries = inner_retries_;
    }
    if (latency.count() > 0) clock_->Advance(latency);
    if (response.kind == Kind::kError) {
      return transport::ExportResult::NothingSent(
          arrow::Status::Invalid("fake: bad input"), spans->num_rows());
    }
    transport::ExportResult result;
    result.spans_total = spans->num_rows();
    result.spans_sent = spans->num_rows();
    result.attempts = 1 + inner_retries;
    result.retries = inner_retries;
    result.bytes_raw = 10 * spans->num_rows();
    result.bytes_sent = 4 * spans->num_rows();
    switch (response.kind) {
      case Kind::kSuccess:
        result.spans_acknowledged = spans->num_rows();
        break;
      case Kind::kRetryable:
        result.retryable = true;
        result.spans_acknowledged = response.acknowledged;
        result.status = arrow::Status::IOError("fake: receiver unavailable");
        break;
      case Kind::kOperatorAction:
        result.retryable = true;
        result.operator_action = true;
        result.spans_acknowledged = response.acknowledged;
        result.status = arrow::Status::IOError("fake: unauthenticated");
        break;
      case Kind::kPermanent:
      case Kind::kError:
        result.spans_acknowledged = response.acknowledged;
        result.status = arrow::Status::Invalid("fake: refused for good");
        break;
    }
    std::lock_guard lock(mutex_);
    for (const auto& name : Names(*spans, result.spans_acknowledged)) {
      delivered_.push_back(name);
    }
    return result;
  }

  arrow::Status Shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
      ++shutdown_calls_;
    }
    cv_.notify_all();
    return arrow::Status::OK();
  }

  /// Waits (real time, bounded) until Export has been entered `n` times.
  bool WaitForCalls(size_t n, milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return calls_.size() >= n; });
  }

  std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  /// Names of the rows acknowledged, in acknowledgement order.
  std::vector<std::string> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  int shutdown_calls() const {
    std::lock_guard lock(mutex_);
    return shutdown_calls_;
  }

 private:
  std::shared_ptr<ManualClock> clock_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Response> script_;
  Response fallback_;
  bool blocked_ = false;
  bool shut_down_ = false;
  int shutdown_calls_ = 0;
  Clock::Duration latency_{0};
  int inner_retries_ = 0;
  std::vector<Call> calls_;
  std::vector<std::string> delivered_;
};

}  // namespace otlp_arrow::pipeline::testing
