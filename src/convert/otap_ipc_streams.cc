// SPDX-License-Identifier: Apache-2.0

#include "otap_ipc_streams_internal.h"

#include <cstring>

#include <arrow/array/data.h>
#include <arrow/buffer.h>
#include <arrow/ipc/options.h>
#include <arrow/util/byte_size.h>

namespace otlp_arrow::convert::internal {

bool CappedMemoryPool::Reserve(int64_t bytes) {
  int64_t current = allocated_.load();
  do {
    if (bytes > cap_ - current) {
      refused_ = true;
      return false;
    }
  } while (!allocated_.compare_exchange_weak(current, current + bytes));
  return true;
}

arrow::Status CappedMemoryPool::Allocate(int64_t size, int64_t alignment, uint8_t** out) {
  if (size < 0 || !Reserve(size)) {
    return arrow::Status::OutOfMemory("OTAP stream memory limit of ", cap_,
                                      " bytes reached allocating ", size, " bytes");
  }
  arrow::Status status = backend_->Allocate(size, alignment, out);
  if (!status.ok()) {
    allocated_ -= size;
    return status;
  }
  total_ += size;
  ++count_;
  return status;
}

arrow::Status CappedMemoryPool::Reallocate(int64_t old_size, int64_t new_size,
                                           int64_t alignment, uint8_t** ptr) {
  const int64_t growth = new_size - old_size;
  if (new_size < 0 || (growth > 0 && !Reserve(growth))) {
    return arrow::Status::OutOfMemory("OTAP stream memory limit of ", cap_,
                                      " bytes reached allocating ", new_size, " bytes");
  }
  arrow::Status status = backend_->Reallocate(old_size, new_size, alignment, ptr);
  if (!status.ok()) {
    if (growth > 0) allocated_ -= growth;
    return status;
  }
  if (growth < 0) allocated_ += growth;
  if (growth > 0) total_ += growth;
  ++count_;
  return status;
}

void CappedMemoryPool::Free(uint8_t* buffer, int64_t size, int64_t alignment) {
  backend_->Free(buffer, size, alignment);
  allocated_ -= size;
}

namespace {

int64_t DataBytes(const arrow::ArrayData& data, bool with_dictionaries) {
  int64_t total = 0;
  for (const auto& buffer : data.buffers) {
    if (buffer != nullptr) total += buffer->size();
  }
  for (const auto& child : data.child_data) {
    total += DataBytes(*child, with_dictionaries);
  }
  if (with_dictionaries && data.dictionary != nullptr) {
    total += DataBytes(*data.dictionary, true);
  }
  return total;
}

int64_t DictionaryBytes(const arrow::ArrayData& data) {
  int64_t total = data.dictionary != nullptr ? DataBytes(*data.dictionary, true) : 0;
  for (const auto& child : data.child_data) total += DictionaryBytes(*child);
  return total;
}

}  // namespace

int64_t BatchBytesWithoutDictionaries(const arrow::RecordBatch& batch) {
  int64_t total = 0;
  for (int i = 0; i < batch.num_columns(); ++i) {
    total += DataBytes(*batch.column_data(i), false);
  }
  return total;
}

int64_t BatchDictionaryBytes(const arrow::RecordBatch& batch) {
  int64_t total = 0;
  for (int i = 0; i < batch.num_columns(); ++i) {
    total += DictionaryBytes(*batch.column_data(i));
  }
  return total;
}

arrow::Result<std::shared_ptr<arrow::RecordBatch>> OtapIpcStreams::Feed(
    std::string_view schema_id, int32_t type, std::string_view record,
    const std::string& payload_name) {
  auto it = streams_.find(schema_id);
  if (it == streams_.end()) {
    // As the Go consumer: a new schema for this payload type replaces the old one.
    for (auto old = streams_.begin(); old != streams_.end();) {
      old = old->second.type == type ? streams_.erase(old) : std::next(old);
    }
    Stream stream;
    stream.type = type;
    stream.listener = std::make_shared<arrow::ipc::CollectListener>();
    auto options = arrow::ipc::IpcReadOptions::Defaults();
    options.memory_pool = pool_.get();
    options.use_threads = false;
    stream.decoder =
        std::make_unique<arrow::ipc::StreamDecoder>(stream.listener, options);
    it = streams_.emplace(std::string(schema_id), std::move(stream)).first;
  }
  Stream& stream = it->second;
  auto fail = [&](const std::string& what) {
    stream.failed = true;
    return arrow::Status::Invalid(payload_name, " payload (schema_id '", schema_id,
                                  "'): ", what);
  };
  if (stream.type != type) {
    return arrow::Status::Invalid(payload_name, " payload: schema_id '", schema_id,
                                  "' is the IPC stream of another payload type");
  }
  if (stream.failed) {
    return arrow::Status::Invalid(payload_name, " payload: the IPC stream of schema_id '",
                                  schema_id, "' failed on an earlier payload");
  }
  if (record.empty()) return fail("empty record");
  // The decoder keeps slices of what it is given (schemas, uncompressed dictionaries):
  // a copy of its own, since `record` lives only for the call.
  auto copied = arrow::AllocateBuffer(static_cast<int64_t>(record.size()));
  if (!copied.ok()) return fail(copied.status().ToString());
  std::shared_ptr<arrow::Buffer> buffer = std::move(copied).ValueUnsafe();
  std::memcpy(buffer->mutable_data(), record.data(), record.size());
  pool_->TakeRefused();
  const int64_t batches_before = stream.listener->num_record_batches();
  arrow::Status status = stream.decoder->Consume(std::move(buffer));
  if (!status.ok()) {
    stream.failed = true;
    if (pool_->TakeRefused()) {
      return arrow::Status::CapacityError(payload_name, " payload (schema_id '",
                                          schema_id, "'): ", status.message());
    }
    return fail("not an Arrow IPC stream continuation: " + status.message());
  }
  const int64_t batches = stream.listener->num_record_batches() - batches_before;
  if (batches != 1) {
    return fail("holds " + std::to_string(batches) + " record batches, expected 1");
  }
  // The record batch must end the payload: a message cut short would otherwise wait
  // for the next payload's bytes.
  // (At a message boundary the decoder wants the 4 bytes of the next one's prefix.)
  if (stream.decoder->next_required_size() != 4) {
    return fail("a message is cut short after the record batch");
  }
  std::shared_ptr<arrow::RecordBatch> batch = stream.listener->PopRecordBatch();
  stream.dictionary_bytes = BatchDictionaryBytes(*batch);
  // Column lengths against the row count and buffer sizes against the lengths (not the
  // values: the columns are checked where they are bound). The IPC state is fine.
  status = batch->Validate();
  if (!status.ok()) {
    return arrow::Status::Invalid(payload_name, " payload (schema_id '", schema_id,
                                  "'): ", status.message());
  }
  return batch;
}

int64_t OtapIpcStreams::dictionary_bytes() const {
  int64_t total = 0;
  for (const auto& [id, stream] : streams_) total += stream.dictionary_bytes;
  return total;
}

}  // namespace otlp_arrow::convert::internal
