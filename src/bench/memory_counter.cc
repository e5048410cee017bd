// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/bench/memory_counter.h"

#include "memory_counter_internal.h"

namespace otlp_arrow::bench {

namespace internal {
Counters g_counters;
}  // namespace internal

using internal::g_counters;

bool HeapCountingAvailable() {
  return g_counters.heap_counting_linked.load(std::memory_order_relaxed);
}

CountingMemoryPool::CountingMemoryPool(arrow::MemoryPool* pool) : pool_(pool) {}

void CountingMemoryPool::Grew(int64_t bytes) {
  total_.fetch_add(bytes, std::memory_order_relaxed);
  const int64_t live = live_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  int64_t max = max_.load(std::memory_order_relaxed);
  while (live > max &&
         !max_.compare_exchange_weak(max, live, std::memory_order_relaxed)) {
  }
  if (g_counters.enabled.load(std::memory_order_relaxed)) g_counters.total.Grow(bytes);
}

void CountingMemoryPool::Shrank(int64_t bytes) {
  live_.fetch_sub(bytes, std::memory_order_relaxed);
  if (g_counters.enabled.load(std::memory_order_relaxed)) {
    g_counters.pool.Sub(bytes);
    g_counters.total.Sub(bytes);
  }
}

arrow::Status CountingMemoryPool::Allocate(int64_t size, int64_t alignment,
                                           uint8_t** out) {
  ARROW_RETURN_NOT_OK(pool_->Allocate(size, alignment, out));
  count_.fetch_add(1, std::memory_order_relaxed);
  if (g_counters.enabled.load(std::memory_order_relaxed)) g_counters.pool.Add(size);
  Grew(size);
  return arrow::Status::OK();
}

arrow::Status CountingMemoryPool::Reallocate(int64_t old_size, int64_t new_size,
                                             int64_t alignment, uint8_t** ptr) {
  ARROW_RETURN_NOT_OK(pool_->Reallocate(old_size, new_size, alignment, ptr));
  count_.fetch_add(1, std::memory_order_relaxed);
  const int64_t delta = new_size - old_size;
  if (delta >= 0) {
    // A growing buffer may move to a new block; counted as its growth only, as Arrow's
    // own pools count it.
    if (g_counters.enabled.load(std::memory_order_relaxed)) g_counters.pool.Add(delta);
    Grew(delta);
  } else {
    Shrank(-delta);
  }
  return arrow::Status::OK();
}

void CountingMemoryPool::Free(uint8_t* buffer, int64_t size, int64_t alignment) {
  pool_->Free(buffer, size, alignment);
  Shrank(size);
}

void CountingMemoryPool::ReleaseUnused() { pool_->ReleaseUnused(); }
int64_t CountingMemoryPool::bytes_allocated() const {
  return live_.load(std::memory_order_relaxed);
}
int64_t CountingMemoryPool::max_memory() const {
  return max_.load(std::memory_order_relaxed);
}
int64_t CountingMemoryPool::total_bytes_allocated() const {
  return total_.load(std::memory_order_relaxed);
}
int64_t CountingMemoryPool::num_allocations() const {
  return count_.load(std::memory_order_relaxed);
}
std::string CountingMemoryPool::backend_name() const { return pool_->backend_name(); }

MemoryMeasurement::~MemoryMeasurement() {
  if (running_) g_counters.enabled.store(false, std::memory_order_seq_cst);
}

void MemoryMeasurement::Start() {
  g_counters.heap.Reset();
  g_counters.pool.Reset();
  g_counters.total.Reset();
  running_ = true;
  g_counters.enabled.store(true, std::memory_order_seq_cst);
}

MemoryStats MemoryMeasurement::Stop() {
  g_counters.enabled.store(false, std::memory_order_seq_cst);
  running_ = false;
  auto read = [](const internal::Counter& c) {
    AllocationStats s;
    s.allocations = c.allocations();
    s.bytes_allocated = c.bytes();
    s.peak_bytes = c.peak();
    s.net_bytes = c.live();
    return s;
  };
  MemoryStats stats;
  stats.heap = read(g_counters.heap);
  stats.pool = read(g_counters.pool);
  stats.peak_bytes = g_counters.total.peak();
  stats.net_bytes = g_counters.total.live();
  return stats;
}

}  // namespace otlp_arrow::bench
