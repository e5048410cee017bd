// SPDX-License-Identifier: Apache-2.0
// What the receiver does with the Arrow IPC messages of a DoPut beyond Arrow's reader:
// decompress ZSTD bodies with one reused context, and keep the messages as they arrived
// so that each batch can be logged in its received (compressed) form.

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/ipc/message.h>
#include <arrow/memory_pool.h>
#include <arrow/result.h>
#include <arrow/status.h>

struct ZSTD_DCtx_s;

namespace otlp_arrow::transport::internal {

/// \brief The parts of an IPC message's header (the Message flatbuffer of Arrow's
/// format/Message.fbs) the receiver needs and arrow::ipc::Message does not tell.
struct IpcMessageHeader {
  arrow::ipc::MessageType type = arrow::ipc::MessageType::NONE;
  /// Of a dictionary batch: which dictionary, and whether it extends (rather than
  /// replaces) the one before.
  int64_t dictionary_id = 0;
  bool is_delta = false;
  /// Of a record or dictionary batch: how each buffer of the body is compressed.
  enum class BodyCodec { kNone, kLz4Frame, kZstd };
  BodyCodec codec = BodyCodec::kNone;
};

/// \brief Reads the header of `message`, whose metadata Message::Open() has verified.
/// Invalid for a header this reader does not understand.
arrow::Result<IpcMessageHeader> ReadIpcMessageHeader(const arrow::ipc::Message& message);

/// \brief Decompresses the ZSTD-compressed bodies of record and dictionary batches with
/// one decompression context for all of them. Arrow's codec calls ZSTD_decompress(),
/// which makes and initialises a context for every buffer (on this machine's VMs the
/// `cpuid` of that initialisation alone was 5% of the receiver's CPU). Not thread-safe.
class ZstdBodyDecompressor {
 public:
  ZstdBodyDecompressor();
  ~ZstdBodyDecompressor();  // frees the context
  ZstdBodyDecompressor(const ZstdBodyDecompressor&) = delete;
  ZstdBodyDecompressor& operator=(const ZstdBodyDecompressor&) = delete;

  /// \brief `message` with its body decompressed if `header` says ZSTD, else `message`
  /// itself. The new body keeps the format's body compression, with every buffer marked
  /// uncompressed (length prefix -1), which Arrow's reader slices without a copy. The
  /// body is allocated from `pool` (the receiver's DecodeMemoryPool(), which refuses a
  /// body over the decoding limits before allocating it); a buffer that does not
  /// decompress to the length its prefix claims is Invalid.
  arrow::Result<std::unique_ptr<arrow::ipc::Message>> Decompress(
      std::unique_ptr<arrow::ipc::Message> message, const IpcMessageHeader& header,
      arrow::MemoryPool* pool);

 private:
  ZSTD_DCtx_s* context_ = nullptr;  // made at the first compressed body
};

/// \brief Keeps the messages of one IPC stream as they arrived, so that the batch last
/// read can be written out as a self-contained IPC stream of its own: the schema, the
/// dictionaries in force (each one's latest replacement and the deltas since), the
/// batch and the end-of-stream marker. Compressed bodies stay compressed.
class IpcStreamRecorder {
 public:
  /// \brief Takes note of the next message of the stream, as it arrived.
  void Record(const arrow::ipc::Message& message, const IpcMessageHeader& header);

  /// \brief The stream of the latest record batch recorded; Invalid before the first.
  arrow::Result<std::shared_ptr<arrow::Buffer>> LatestBatchStream(
      arrow::MemoryPool* pool) const;

 private:
  struct RawMessage {
    std::shared_ptr<arrow::Buffer> metadata;
    std::shared_ptr<arrow::Buffer> body;  // null or `body_length` bytes at least
    int64_t body_length = 0;
  };
  static RawMessage Raw(const arrow::ipc::Message& message);

  std::optional<RawMessage> schema_;
  // By dictionary id: the latest replacement, then the deltas since, in order.
  std::map<int64_t, std::vector<RawMessage>> dictionaries_;
  std::optional<RawMessage> batch_;
};

}  // namespace otlp_arrow::transport::internal
