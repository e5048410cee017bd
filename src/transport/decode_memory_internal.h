// SPDX-License-Identifier: Apache-2.0
// Memory bounds for decoding untrusted Arrow IPC: checked before memory is allocated.

#pragma once

#include <atomic>
#include <cstdint>

#include <arrow/memory_pool.h>

namespace otlp_arrow::transport::internal {

/// \brief Bytes that the streams of one receiver hold decoded at once. Thread-safe.
class InFlightBudget {
 public:
  explicit InFlightBudget(int64_t capacity) : capacity_(capacity) {}

  /// \brief Takes `bytes` from the budget if they fit; false (and nothing taken) if not.
  bool TryReserve(int64_t bytes);
  void Release(int64_t bytes);

  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  std::atomic<int64_t> used_{0};
};

/// \brief Why DecodeMemoryPool() refused an allocation inside a DecodeScope.
enum class DecodeRefusal {
  kNone,
  kMessageLimit,  // the message would decode to more than its limit
  kBudget,        // the receiver's in-flight budget is used up by other streams
};

/// \brief The decoding of one untrusted message on the calling thread: every allocation
/// DecodeMemoryPool() makes on this thread while the scope lives is checked against the
/// scope's limit and taken from `budget` before memory is allocated, so a message whose
/// buffers claim gigabytes (a decompression bomb: IPC bodies carry their decompressed
/// length) is refused without allocating them. What was taken returns to the budget when
/// the scope ends, i.e. once the decoded batch has been handled; buffers that outlive
/// the scope (dictionaries kept for the next batches) are not counted after it.
///
/// Thread-local rather than a pool per stream: buffers keep a raw pointer to their pool
/// and can outlive a stream (the store keeps a row group's dictionaries), so the pool
/// must live as long as the process.
class DecodeScope {
 public:
  DecodeScope(InFlightBudget* budget, int64_t limit);
  ~DecodeScope();
  DecodeScope(const DecodeScope&) = delete;
  DecodeScope& operator=(const DecodeScope&) = delete;

  /// \brief Bytes allocated inside this scope (and taken from the budget).
  int64_t reserved() const { return reserved_; }
  /// \brief The latest refusal in this scope, if any.
  DecodeRefusal refusal() const { return refusal_; }

  /// \brief Whether `bytes` more may be held; takes them if so. Called by the pool, and
  /// for message bytes that were allocated elsewhere (gRPC's) but are held as long.
  bool TryReserve(int64_t bytes);

  /// \brief The calling thread's innermost scope, or null.
  static DecodeScope* Current();

 private:
  InFlightBudget* budget_;
  const int64_t limit_;
  int64_t reserved_ = 0;
  DecodeRefusal refusal_ = DecodeRefusal::kNone;
  DecodeScope* outer_;
};

/// \brief A pool over Arrow's default one that enforces the calling thread's DecodeScope,
/// if any (outside a scope it only forwards). Lives as long as the process.
arrow::MemoryPool* DecodeMemoryPool();

}  // namespace otlp_arrow::transport::internal
