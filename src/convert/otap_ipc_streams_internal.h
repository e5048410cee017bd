// SPDX-License-Identifier: Apache-2.0
// The Arrow IPC state of one OTAP stream: per schema_id an IPC stream decoder.

#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/ipc/reader.h>
#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>

namespace otlp_arrow::convert::internal {

/// \brief A pool that refuses allocations past `cap` live bytes: an IPC body's
/// declared uncompressed size is allocated before it is decompressed, so a small
/// payload could otherwise ask for any amount. Thread-safe (buffers are freed wherever
/// their batches are released).
class CappedMemoryPool : public arrow::MemoryPool {
 public:
  CappedMemoryPool(arrow::MemoryPool* backend, int64_t cap)
      : backend_(backend), cap_(cap) {}

  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override;
  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                           uint8_t** ptr) override;
  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override;
  int64_t bytes_allocated() const override { return allocated_.load(); }
  int64_t total_bytes_allocated() const override { return total_.load(); }
  int64_t num_allocations() const override { return count_.load(); }
  std::string backend_name() const override { return backend_->backend_name(); }

  /// \brief Whether an allocation was refused since the last call (and resets it).
  bool TakeRefused() { return refused_.exchange(false); }
  int64_t cap() const { return cap_; }

 private:
  bool Reserve(int64_t bytes);

  arrow::MemoryPool* backend_;
  const int64_t cap_;
  std::atomic<int64_t> allocated_{0};
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> count_{0};
  std::atomic<bool> refused_{false};
};

/// \brief schema_id → Arrow IPC stream decoder, as the Go consumer keeps them
/// (otel-arrow arrow_record.Consumer): an unseen schema_id starts a new IPC stream
/// (beginning with its Schema message) and drops the older ones of the same payload
/// type; schemas and dictionaries (deltas, replacements) carry over between payloads.
class OtapIpcStreams {
 public:
  explicit OtapIpcStreams(std::shared_ptr<CappedMemoryPool> pool)
      : pool_(std::move(pool)) {}

  /// \brief Decodes one payload, which must hold exactly one record batch (after the
  /// Schema and dictionary messages it may carry). Errors name `payload_name`. A
  /// schema_id whose IPC stream failed stays failed: its state no longer follows the
  /// sender's.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Feed(
      std::string_view schema_id, int32_t type, std::string_view record,
      const std::string& payload_name);

  /// \brief Bytes of the dictionaries the open IPC streams hold.
  int64_t dictionary_bytes() const;

 private:
  struct Stream {
    int32_t type = 0;
    std::shared_ptr<arrow::ipc::CollectListener> listener;
    std::unique_ptr<arrow::ipc::StreamDecoder> decoder;
    int64_t dictionary_bytes = 0;
    bool failed = false;
  };

  std::shared_ptr<CappedMemoryPool> pool_;
  std::map<std::string, Stream, std::less<>> streams_;
};

/// \brief Bytes of the buffers of `batch`, its dictionaries left out.
int64_t BatchBytesWithoutDictionaries(const arrow::RecordBatch& batch);

/// \brief Bytes of the dictionaries `batch` refers to (also inside structs).
int64_t BatchDictionaryBytes(const arrow::RecordBatch& batch);

}  // namespace otlp_arrow::convert::internal
