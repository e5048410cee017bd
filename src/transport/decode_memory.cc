// SPDX-License-Identifier: Apache-2.0

#include "decode_memory_internal.h"

#include <string>

namespace otlp_arrow::transport::internal {

namespace {

thread_local DecodeScope* current_scope = nullptr;

class ScopedDecodeMemoryPool final : public arrow::MemoryPool {
 public:
  explicit ScopedDecodeMemoryPool(arrow::MemoryPool* backing) : backing_(backing) {}

  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override {
    ARROW_RETURN_NOT_OK(Admit(size));
    return backing_->Allocate(size, alignment, out);
  }

  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                           uint8_t** ptr) override {
    if (new_size > old_size) ARROW_RETURN_NOT_OK(Admit(new_size - old_size));
    return backing_->Reallocate(old_size, new_size, alignment, ptr);
  }

  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override {
    backing_->Free(buffer, size, alignment);
  }

  void ReleaseUnused() override { backing_->ReleaseUnused(); }
  int64_t bytes_allocated() const override { return backing_->bytes_allocated(); }
  int64_t max_memory() const override { return backing_->max_memory(); }
  int64_t total_bytes_allocated() const override {
    return backing_->total_bytes_allocated();
  }
  int64_t num_allocations() const override { return backing_->num_allocations(); }
  std::string backend_name() const override { return backing_->backend_name(); }

 private:
  static arrow::Status Admit(int64_t size) {
    DecodeScope* scope = current_scope;
    if (scope == nullptr || scope->TryReserve(size)) return arrow::Status::OK();
    return arrow::Status::OutOfMemory(
        scope->refusal() == DecodeRefusal::kBudget
            ? "decoding memory of the receiver's streams is used up"
            : "the message decodes to more bytes than its limit",
        " (", size, " more bytes after ", scope->reserved(), ")");
  }

  arrow::MemoryPool* backing_;
};

}  // namespace

bool InFlightBudget::TryReserve(int64_t bytes) {
  int64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > capacity_ - used) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel));
  return true;
}

void InFlightBudget::Release(int64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_acq_rel);
}

DecodeScope::DecodeScope(InFlightBudget* budget, int64_t limit)
    : budget_(budget), limit_(limit), outer_(current_scope) {
  current_scope = this;
}

DecodeScope::~DecodeScope() {
  current_scope = outer_;
  budget_->Release(reserved_);
}

bool DecodeScope::TryReserve(int64_t bytes) {
  if (bytes > limit_ - reserved_) {
    refusal_ = DecodeRefusal::kMessageLimit;
    return false;
  }
  if (!budget_->TryReserve(bytes)) {
    refusal_ = DecodeRefusal::kBudget;
    return false;
  }
  reserved_ += bytes;
  return true;
}

DecodeScope* DecodeScope::Current() { return current_scope; }

arrow::MemoryPool* DecodeMemoryPool() {
  // Never destroyed: buffers allocated from it may be freed during static destruction.
  static auto* pool = new ScopedDecodeMemoryPool(arrow::default_memory_pool());
  return pool;
}

}  // namespace otlp_arrow::transport::internal
