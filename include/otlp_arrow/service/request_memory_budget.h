// SPDX-License-Identifier: Apache-2.0
// RequestMemoryBudget: the bytes that OTLP requests being read and decoded may hold at
// once, shared by the gRPC and HTTP receivers of a gateway.

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace otlp_arrow::service {

/// \brief A byte budget for the requests a gateway is reading and decoding, the memory
/// that the export queue (`buffer_bytes`) does not count.
///
/// A receiver reserves a request's bytes before it reads or decodes them: the body as
/// sent, the body inflated, and the builders the spans are encoded into; and gives them
/// back once the request is answered (its spans are then in the export queue, or
/// nowhere). A reservation that does not fit is refused at once, never waited for: the
/// receiver answers RESOURCE_EXHAUSTED with RetryInfo / HTTP 429 with Retry-After
/// without reading more, so the client retries later and no client can make the
/// gateway hold more than the budget. Thread-safe.
class RequestMemoryBudget {
 public:
  /// \brief The bytes one request holds; released when destroyed. Move-only.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Release(); }

    /// \brief Holds `bytes` more; false (holding what it held) when the budget has not
    /// that many left, which is counted as a refusal. A reservation of no budget
    /// always grows.
    bool Grow(int64_t bytes);
    /// \brief Holds at least `bytes` in all (grows by the difference if needed).
    bool GrowTo(int64_t bytes) { return bytes <= bytes_ || Grow(bytes - bytes_); }
    /// \brief Whether a reservation of `bytes` in all could ever be had, with nothing
    /// else reserved: a request that needs more is too large for this gateway, not
    /// early.
    bool CouldHold(int64_t bytes) const {
      return budget_ == nullptr || bytes <= budget_->capacity_bytes();
    }
    /// \brief Gives everything back.
    void Release();
    int64_t bytes() const { return bytes_; }

   private:
    friend class RequestMemoryBudget;
    explicit Reservation(std::shared_ptr<RequestMemoryBudget> budget)
        : budget_(std::move(budget)) {}

    std::shared_ptr<RequestMemoryBudget> budget_;
    int64_t bytes_ = 0;
  };

  /// \param[in] capacity_bytes bytes all reservations together may hold; > 0
  explicit RequestMemoryBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

  /// \brief An empty reservation on `budget`; a null budget gives one that is never
  /// refused (a receiver without a budget).
  static Reservation Open(const std::shared_ptr<RequestMemoryBudget>& budget) {
    return Reservation(budget);
  }

  int64_t capacity_bytes() const { return capacity_; }
  /// \brief Bytes reserved now.
  int64_t reserved_bytes() const { return reserved_.load(std::memory_order_relaxed); }
  /// \brief Reservations refused since the start.
  int64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  bool TryTake(int64_t bytes);
  void Give(int64_t bytes) { reserved_.fetch_sub(bytes, std::memory_order_acq_rel); }

  const int64_t capacity_;
  std::atomic<int64_t> reserved_{0};
  std::atomic<int64_t> refusals_{0};
};

}  // namespace otlp_arrow::service
