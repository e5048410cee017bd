// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/request_memory_budget.h"

#include <utility>

namespace otlp_arrow::service {

bool RequestMemoryBudget::TryTake(int64_t bytes) {
  int64_t reserved = reserved_.load(std::memory_order_relaxed);
  do {
    if (bytes > capacity_ - reserved) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!reserved_.compare_exchange_weak(reserved, reserved + bytes,
                                            std::memory_order_acq_rel));
  return true;
}

RequestMemoryBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(std::exchange(other.bytes_, 0)) {}

RequestMemoryBudget::Reservation& RequestMemoryBudget::Reservation::operator=(
    Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::move(other.budget_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool RequestMemoryBudget::Reservation::Grow(int64_t bytes) {
  if (bytes <= 0) return true;
  if (budget_ != nullptr && !budget_->TryTake(bytes)) return false;
  bytes_ += bytes;
  return true;
}

void RequestMemoryBudget::Reservation::Release() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Give(bytes_);
  bytes_ = 0;
}

}  // namespace otlp_arrow::service
