// SPDX-License-Identifier: Apache-2.0
// A lock-free histogram with fixed bucket bounds, for latencies the Prometheus endpoint
// exposes (export latency, request latency).

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace otlp_arrow::telemetry {

/// \brief A copy of a Histogram's state, as Prometheus exposes it.
struct HistogramSnapshot {
  /// \brief Upper bounds (inclusive) of the buckets, ascending; +Inf is implied.
  std::vector<double> bounds;
  /// \brief Observations per bucket, not cumulative; one more entry than `bounds`
  /// (the last is the +Inf bucket).
  std::vector<uint64_t> counts;
  double sum = 0;
  uint64_t count = 0;
};

/// \brief Counts observations into buckets. Observe() is wait-free and may be called from
/// any thread; Snapshot() may race with it (a snapshot can be off by the observations in
/// flight, as any Prometheus client's is).
class Histogram {
 public:
  /// \brief Buckets for latencies in seconds: 1 ms … 60 s.
  static std::vector<double> LatencySecondsBounds() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5,   1,      2.5,   5,    10,    30,   60};
  }

  explicit Histogram(std::vector<double> bounds = LatencySecondsBounds())
      : bounds_(std::move(bounds)),
        counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

  void Observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    // fetch_add on atomic<double> is C++20.
    sum_.fetch_add(value, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  HistogramSnapshot Snapshot() const {
    HistogramSnapshot s;
    s.bounds = bounds_;
    s.counts.resize(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace otlp_arrow::telemetry
