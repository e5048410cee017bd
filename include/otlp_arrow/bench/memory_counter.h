// SPDX-License-Identifier: Apache-2.0
// Real heap use of an operation: operator new/delete and an Arrow memory pool, counted.

#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <arrow/memory_pool.h>
#include <arrow/status.h>

namespace otlp_arrow::bench {

/// \brief What one source of memory did between MemoryMeasurement::Start() and Stop().
///
/// "Live" bytes are those allocated and not yet freed. All figures are relative to the
/// moment of Start(): memory freed during the measurement that was allocated before it
/// lowers the live level, so `net_bytes` can be negative.
struct AllocationStats {
  int64_t allocations = 0;      ///< calls that allocated (pool: including reallocations)
  int64_t bytes_allocated = 0;  ///< sum of every increase of the live bytes
  int64_t peak_bytes = 0;  ///< highest live level reached, above the level at Start()
  int64_t net_bytes = 0;   ///< live level at Stop(): what the result still holds
};

/// \brief Memory of one measured operation.
struct MemoryStats {
  /// operator new/delete: protobuf messages and arenas, std::string, Arrow's C++
  /// objects (ArrayData, shared_ptr control blocks). Bytes are malloc's usable sizes.
  AllocationStats heap;
  /// Arrow buffers, through a CountingMemoryPool. Arrow's default pool (jemalloc or
  /// mimalloc in the pyarrow wheel) does not go through operator new, hence the second
  /// counter.
  AllocationStats pool;
  int64_t peak_bytes = 0;  ///< highest heap + pool live level together, above Start()
  int64_t net_bytes = 0;   ///< heap + pool live level at Stop()
  int64_t allocations() const { return heap.allocations + pool.allocations; }
  int64_t bytes_allocated() const { return heap.bytes_allocated + pool.bytes_allocated; }
};

/// \brief Whether this program counts operator new: true when it links
/// `otlp_arrow_bench_counting_new` (src/bench/counting_new_delete.cc), which replaces the
/// global operator new and delete. Without it only the pool is counted.
bool HeapCountingAvailable();

/// \brief An arrow::MemoryPool that forwards to another pool and counts what passes
/// through it while a MemoryMeasurement runs. Use one for everything an operation
/// allocates from Arrow (encoder, IPC reader and writer, output streams).
class CountingMemoryPool : public arrow::MemoryPool {
 public:
  explicit CountingMemoryPool(arrow::MemoryPool* pool = arrow::default_memory_pool());

  using arrow::MemoryPool::Allocate;
  using arrow::MemoryPool::Free;
  using arrow::MemoryPool::Reallocate;

  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override;
  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                           uint8_t** ptr) override;
  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override;
  void ReleaseUnused() override;

  int64_t bytes_allocated() const override;
  int64_t max_memory() const override;
  int64_t total_bytes_allocated() const override;
  int64_t num_allocations() const override;
  std::string backend_name() const override;

 private:
  void Grew(int64_t bytes);
  void Shrank(int64_t bytes);

  arrow::MemoryPool* pool_;
  // This pool's own figures, for the arrow::MemoryPool interface (always kept).
  std::atomic<int64_t> live_{0};
  std::atomic<int64_t> max_{0};
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> count_{0};
};

/// \brief Counts the heap and every CountingMemoryPool between Start() and Stop(), on
/// all threads. Measurements do not nest: one at a time per process.
class MemoryMeasurement {
 public:
  MemoryMeasurement() = default;
  ~MemoryMeasurement();
  MemoryMeasurement(const MemoryMeasurement&) = delete;
  MemoryMeasurement& operator=(const MemoryMeasurement&) = delete;

  void Start();
  MemoryStats Stop();

 private:
  bool running_ = false;
};

}  // namespace otlp_arrow::bench
