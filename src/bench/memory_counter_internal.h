// SPDX-License-Identifier: Apache-2.0
// The process-wide counters behind MemoryMeasurement, shared with the replaced operator
// new/delete (counting_new_delete.cc).

#pragma once

#include <atomic>
#include <cstdint>

namespace otlp_arrow::bench::internal {

/// Live bytes, their high-water mark, and totals; lock-free, any thread.
class Counter {
 public:
  void Add(int64_t bytes) {
    allocations_.fetch_add(1, std::memory_order_relaxed);
    Grow(bytes);
  }
  /// An increase of the live level that is not a new block (a reallocation's growth).
  void Grow(int64_t bytes) {
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    const int64_t live = live_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    int64_t peak = peak_.load(std::memory_order_relaxed);
    while (live > peak &&
           !peak_.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
    }
  }
  void Sub(int64_t bytes) { live_.fetch_sub(bytes, std::memory_order_relaxed); }
  void Reset() {
    allocations_.store(0, std::memory_order_relaxed);
    bytes_.store(0, std::memory_order_relaxed);
    live_.store(0, std::memory_order_relaxed);
    peak_.store(0, std::memory_order_relaxed);
  }
  int64_t allocations() const { return allocations_.load(std::memory_order_relaxed); }
  int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  int64_t live() const { return live_.load(std::memory_order_relaxed); }
  int64_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> allocations_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> peak_{0};
};

struct Counters {
  /// Read on every allocation by the replaced operator new: one relaxed load while no
  /// measurement runs.
  std::atomic<bool> enabled{false};
  /// Set by counting_new_delete.cc's static initializer when it is linked in.
  std::atomic<bool> heap_counting_linked{false};
  Counter heap;
  Counter pool;
  Counter total;  ///< heap + pool, for their combined peak
};

/// Constant-initialized (atomics only), so usable from operator new during static
/// initialization.
extern Counters g_counters;

inline void OnHeapAllocate(int64_t bytes) {
  g_counters.heap.Add(bytes);
  g_counters.total.Grow(bytes);
}

inline void OnHeapFree(int64_t bytes) {
  g_counters.heap.Sub(bytes);
  g_counters.total.Sub(bytes);
}

}  // namespace otlp_arrow::bench::internal
