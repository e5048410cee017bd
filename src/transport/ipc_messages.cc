// SPDX-License-Identifier: Apache-2.0

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include <arrow/util/bit_util.h>

#include "ipc_messages_internal.h"

namespace otlp_arrow::transport::internal {

namespace {

// Field numbers (vtable slots) of the tables of Arrow's format/Message.fbs. A union takes
// two slots: its type, then its value.
constexpr int kMessageHeaderType = 1;
constexpr int kMessageHeader = 2;
constexpr int kMessageBodyLength = 3;
constexpr int kRecordBatchBuffers = 2;
constexpr int kRecordBatchCompression = 3;
constexpr int kDictionaryBatchId = 0;
constexpr int kDictionaryBatchData = 1;
constexpr int kDictionaryBatchIsDelta = 2;
constexpr int kBodyCompressionCodec = 0;
// MessageHeader union members and CompressionType values.
constexpr uint8_t kHeaderDictionaryBatch = 2;
constexpr uint8_t kHeaderRecordBatch = 3;
constexpr int8_t kCodecZstd = 1;
// struct Buffer { offset: long; length: long; }
constexpr int64_t kBufferStructBytes = 16;
// The prefix of a buffer of a compressed body that is stored uncompressed.
constexpr int64_t kUncompressedMarker = -1;

template <typename T>
T Load(const uint8_t* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;  // flatbuffers and IPC bodies are little-endian, as is every target
}

template <typename T>
void Store(uint8_t* data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

arrow::Status Malformed(const char* what) {
  return arrow::Status::Invalid("IPC message header: ", what);
}

// One table of a flatbuffer (bounds-checked: the verifier has run, but a mistake here
// must not read out of bounds either).
class FlatTable {
 public:
  static arrow::Result<FlatTable> Root(const uint8_t* data, int64_t size) {
    if (size < 4) return Malformed("too short");
    return At(data, size, Load<uint32_t>(data));
  }

  // Where field `slot` is, or 0 when it is absent.
  int64_t FieldPosition(int slot) const {
    const int64_t entry = vtable_ + 4 + 2 * static_cast<int64_t>(slot);
    if (entry + 2 > vtable_ + vtable_bytes_) return 0;
    const uint16_t offset = Load<uint16_t>(data_ + entry);
    return offset == 0 ? 0 : position_ + offset;
  }

  template <typename T>
  arrow::Result<T> Scalar(int slot, T default_value) const {
    const int64_t at = FieldPosition(slot);
    if (at == 0) return default_value;
    if (at + static_cast<int64_t>(sizeof(T)) > size_) return Malformed("field past end");
    return Load<T>(data_ + at);
  }

  // The table field `slot` refers to; nullopt when absent.
  arrow::Result<std::optional<FlatTable>> Table(int slot) const {
    ARROW_ASSIGN_OR_RAISE(const int64_t target, Reference(slot));
    if (target == 0) return std::nullopt;
    ARROW_ASSIGN_OR_RAISE(auto table, At(data_, size_, target));
    return table;
  }

  // The first element and the length of the vector field `slot` refers to (elements of
  // `element_bytes`); {0, 0} when absent.
  arrow::Result<std::pair<int64_t, int64_t>> Vector(int slot,
                                                    int64_t element_bytes) const {
    ARROW_ASSIGN_OR_RAISE(const int64_t target, Reference(slot));
    if (target == 0) return std::pair<int64_t, int64_t>{0, 0};
    if (target + 4 > size_) return Malformed("vector past end");
    const int64_t length = Load<uint32_t>(data_ + target);
    if (length > (size_ - target - 4) / element_bytes)
      return Malformed("vector past end");
    return std::pair<int64_t, int64_t>{target + 4, length};
  }

 private:
  FlatTable(const uint8_t* data, int64_t size, int64_t position, int64_t vtable,
            int64_t vtable_bytes)
      : data_(data),
        size_(size),
        position_(position),
        vtable_(vtable),
        vtable_bytes_(vtable_bytes) {}

  static arrow::Result<FlatTable> At(const uint8_t* data, int64_t size,
                                     int64_t position) {
    if (position < 0 || position + 4 > size) return Malformed("table past end");
    const int64_t vtable = position - Load<int32_t>(data + position);
    if (vtable < 0 || vtable + 4 > size) return Malformed("vtable past end");
    const int64_t vtable_bytes = Load<uint16_t>(data + vtable);
    if (vtable_bytes < 4 || vtable + vtable_bytes > size) {
      return Malformed("vtable past end");
    }
    return FlatTable(data, size, position, vtable, vtable_bytes);
  }

  // The target of the offset field `slot`; 0 when absent.
  arrow::Result<int64_t> Reference(int slot) const {
    const int64_t at = FieldPosition(slot);
    if (at == 0) return 0;
    if (at + 4 > size_) return Malformed("field past end");
    return at + Load<uint32_t>(data_ + at);
  }

  const uint8_t* data_;
  int64_t size_;
  int64_t position_;
  int64_t vtable_;
  int64_t vtable_bytes_;
};

// The RecordBatch table of a record or dictionary batch message.
arrow::Result<std::optional<FlatTable>> RecordBatchOf(const FlatTable& message,
                                                      arrow::ipc::MessageType type) {
  ARROW_ASSIGN_OR_RAISE(auto header, message.Table(kMessageHeader));
  if (!header || type == arrow::ipc::MessageType::RECORD_BATCH) return header;
  return header->Table(kDictionaryBatchData);
}

}  // namespace

arrow::Result<IpcMessageHeader> ReadIpcMessageHeader(const arrow::ipc::Message& message) {
  IpcMessageHeader header;
  header.type = message.type();
  if (header.type != arrow::ipc::MessageType::RECORD_BATCH &&
      header.type != arrow::ipc::MessageType::DICTIONARY_BATCH) {
    return header;
  }
  const auto& metadata = *message.metadata();
  ARROW_ASSIGN_OR_RAISE(auto root, FlatTable::Root(metadata.data(), metadata.size()));
  ARROW_ASSIGN_OR_RAISE(const auto union_type,
                        root.Scalar<uint8_t>(kMessageHeaderType, 0));
  const uint8_t expected = header.type == arrow::ipc::MessageType::RECORD_BATCH
                               ? kHeaderRecordBatch
                               : kHeaderDictionaryBatch;
  if (union_type != expected) return Malformed("header of another type");
  if (header.type == arrow::ipc::MessageType::DICTIONARY_BATCH) {
    ARROW_ASSIGN_OR_RAISE(auto dictionary, root.Table(kMessageHeader));
    if (!dictionary) return Malformed("dictionary batch without header");
    ARROW_ASSIGN_OR_RAISE(header.dictionary_id,
                          dictionary->Scalar<int64_t>(kDictionaryBatchId, 0));
    ARROW_ASSIGN_OR_RAISE(const auto is_delta,
                          dictionary->Scalar<uint8_t>(kDictionaryBatchIsDelta, 0));
    header.is_delta = is_delta != 0;
  }
  ARROW_ASSIGN_OR_RAISE(auto batch, RecordBatchOf(root, header.type));
  if (!batch) return Malformed("batch without header");
  ARROW_ASSIGN_OR_RAISE(auto compression, batch->Table(kRecordBatchCompression));
  if (compression) {
    // CompressionType's default is LZ4_FRAME (0).
    ARROW_ASSIGN_OR_RAISE(const auto codec,
                          compression->Scalar<int8_t>(kBodyCompressionCodec, 0));
    header.codec = codec == kCodecZstd ? IpcMessageHeader::BodyCodec::kZstd
                                       : IpcMessageHeader::BodyCodec::kLz4Frame;
  }
  return header;
}

// ---------------------------------------------------------------------------------------

ZstdBodyDecompressor::ZstdBodyDecompressor() = default;

ZstdBodyDecompressor::~ZstdBodyDecompressor() { ZSTD_freeDCtx(context_); }

arrow::Result<std::unique_ptr<arrow::ipc::Message>> ZstdBodyDecompressor::Decompress(
    std::unique_ptr<arrow::ipc::Message> message, const IpcMessageHeader& header,
    arrow::MemoryPool* pool) {
  if (header.codec != IpcMessageHeader::BodyCodec::kZstd || message->body() == nullptr) {
    return message;
  }
  if (context_ == nullptr) {
    context_ = ZSTD_createDCtx();
    if (context_ == nullptr) {
      return arrow::Status::OutOfMemory("cannot make a ZSTD decompression context");
    }
  }
  // The header is patched in a copy: the new offsets and lengths of the buffers and the
  // new body length, each in place (same width), so nothing else moves.
  const auto& original = *message->metadata();
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> metadata,
                        arrow::AllocateBuffer(original.size(), pool));
  uint8_t* meta = metadata->mutable_data();
  std::memcpy(meta, original.data(), static_cast<size_t>(original.size()));
  ARROW_ASSIGN_OR_RAISE(auto root, FlatTable::Root(meta, original.size()));
  ARROW_ASSIGN_OR_RAISE(auto batch, RecordBatchOf(root, header.type));
  if (!batch) return Malformed("batch without header");
  ARROW_ASSIGN_OR_RAISE(const auto buffers,
                        batch->Vector(kRecordBatchBuffers, kBufferStructBytes));
  const int64_t body_length_at = root.FieldPosition(kMessageBodyLength);
  if (body_length_at == 0 || body_length_at + 8 > original.size()) {
    return message;  // no body to speak of: leave it to Arrow
  }

  const arrow::Buffer& body = *message->body();
  const int64_t body_bytes = std::min(body.size(), message->body_length());
  // First pass: check every buffer and size the new body.
  int64_t new_body_bytes = 0;
  for (int64_t i = 0; i < buffers.second; ++i) {
    const uint8_t* entry = meta + buffers.first + i * kBufferStructBytes;
    const auto offset = Load<int64_t>(entry);
    const auto length = Load<int64_t>(entry + 8);
    if (offset < 0 || length < 0 || offset > body_bytes || length > body_bytes - offset) {
      return arrow::Status::Invalid("IPC buffer ", i, " lies outside the message body");
    }
    if (length == 0) continue;
    if (length < 8) {
      return arrow::Status::Invalid("IPC buffer ", i,
                                    " is compressed but shorter than its length prefix");
    }
    auto decompressed = Load<int64_t>(body.data() + offset);
    if (decompressed == kUncompressedMarker) decompressed = length - 8;
    if (decompressed < 0) {
      return arrow::Status::Invalid("IPC buffer ", i, " claims a decompressed length of ",
                                    decompressed);
    }
    const int64_t room = std::numeric_limits<int64_t>::max() - new_body_bytes - 16;
    if (decompressed > room) {
      return arrow::Status::Invalid("IPC buffer ", i, " claims ", decompressed, " bytes");
    }
    new_body_bytes += 8 + arrow::bit_util::RoundUpToMultipleOf8(decompressed);
  }
  // Allocated from the decoding pool: a body over the decoding limits (a decompression
  // bomb claims any length it likes) is refused here, before any byte is written.
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> new_body,
                        arrow::AllocateBuffer(new_body_bytes, pool));
  uint8_t* out = new_body->mutable_data();
  int64_t position = 0;
  for (int64_t i = 0; i < buffers.second; ++i) {
    uint8_t* entry = meta + buffers.first + i * kBufferStructBytes;
    const auto offset = Load<int64_t>(entry);
    const auto length = Load<int64_t>(entry + 8);
    if (length == 0) {
      Store<int64_t>(entry, position);
      continue;
    }
    const uint8_t* source = body.data() + offset + 8;
    const int64_t source_bytes = length - 8;
    const auto claimed = Load<int64_t>(body.data() + offset);
    const int64_t decompressed = claimed == kUncompressedMarker ? source_bytes : claimed;
    Store<int64_t>(out + position, kUncompressedMarker);
    if (claimed == kUncompressedMarker) {
      std::memcpy(out + position + 8, source, static_cast<size_t>(source_bytes));
    } else {
      const size_t written = ZSTD_decompressDCtx(
          context_, out + position + 8, static_cast<size_t>(decompressed), source,
          static_cast<size_t>(source_bytes));
      if (ZSTD_isError(written)) {
        return arrow::Status::Invalid(
            "IPC buffer ", i, " does not decompress: ", ZSTD_getErrorName(written));
      }
      if (static_cast<int64_t>(written) != decompressed) {
        return arrow::Status::Invalid("IPC buffer ", i, " decompresses to ", written,
                                      " bytes, its prefix says ", decompressed);
      }
    }
    const int64_t padded = arrow::bit_util::RoundUpToMultipleOf8(decompressed);
    std::memset(out + position + 8 + decompressed, 0,
                static_cast<size_t>(padded - decompressed));
    Store<int64_t>(entry, position);
    Store<int64_t>(entry + 8, 8 + decompressed);
    position += 8 + padded;
  }
  Store<int64_t>(meta + body_length_at, new_body_bytes);
  return arrow::ipc::Message::Open(std::move(metadata), std::move(new_body));
}

// ---------------------------------------------------------------------------------------

IpcStreamRecorder::RawMessage IpcStreamRecorder::Raw(const arrow::ipc::Message& message) {
  const auto& body = message.body();
  return {message.metadata(), body,
          body == nullptr ? 0 : std::min(body->size(), message.body_length())};
}

void IpcStreamRecorder::Record(const arrow::ipc::Message& message,
                               const IpcMessageHeader& header) {
  switch (header.type) {
    case arrow::ipc::MessageType::SCHEMA:
      if (!schema_) schema_ = Raw(message);
      break;
    case arrow::ipc::MessageType::DICTIONARY_BATCH: {
      auto& messages = dictionaries_[header.dictionary_id];
      if (!header.is_delta) messages.clear();
      messages.push_back(Raw(message));
      break;
    }
    case arrow::ipc::MessageType::RECORD_BATCH:
      batch_ = Raw(message);
      break;
    default:
      break;
  }
}

arrow::Result<std::shared_ptr<arrow::Buffer>> IpcStreamRecorder::LatestBatchStream(
    arrow::MemoryPool* pool) const {
  if (!schema_ || !batch_) return arrow::Status::Invalid("no batch recorded");
  // Every replacement first, then the deltas: Arrow's reader expects one dictionary
  // message per dictionary before the first batch, and applies later ones as they come.
  std::vector<const RawMessage*> messages = {&*schema_};
  for (const auto& [id, of_id] : dictionaries_) messages.push_back(&of_id.front());
  for (const auto& [id, of_id] : dictionaries_) {
    for (size_t i = 1; i < of_id.size(); ++i) messages.push_back(&of_id[i]);
  }
  messages.push_back(&*batch_);
  // Each message: continuation marker, metadata length, metadata padded so that the
  // body starts at a multiple of 8, body. Then the end-of-stream marker.
  auto padded_metadata = [](const RawMessage& m) {
    return arrow::bit_util::RoundUpToMultipleOf8(m.metadata->size() + 8) - 8;
  };
  int64_t bytes = 8;
  for (const auto* m : messages) bytes += 8 + padded_metadata(*m) + m->body_length;
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> stream,
                        arrow::AllocateBuffer(bytes, pool));
  uint8_t* out = stream->mutable_data();
  for (const auto* m : messages) {
    const int64_t padded = padded_metadata(*m);
    Store<uint32_t>(out, 0xFFFFFFFFu);
    Store<int32_t>(out + 4, static_cast<int32_t>(padded));
    std::memcpy(out + 8, m->metadata->data(), static_cast<size_t>(m->metadata->size()));
    std::memset(out + 8 + m->metadata->size(), 0,
                static_cast<size_t>(padded - m->metadata->size()));
    out += 8 + padded;
    if (m->body_length > 0) {
      std::memcpy(out, m->body->data(), static_cast<size_t>(m->body_length));
      out += m->body_length;
    }
  }
  Store<uint32_t>(out, 0xFFFFFFFFu);
  Store<int32_t>(out + 4, 0);
  return stream;
}

}  // namespace otlp_arrow::transport::internal
