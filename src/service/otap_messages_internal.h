// SPDX-License-Identifier: Apache-2.0
// The pieces of an OTAP BatchArrowRecords the receiver reads before decoding payloads:
// the message's own compression (zstd or gzip, which gRPC C++ does not undo for us),
// its HPACK-coded headers, and the BatchStatus answer.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

struct nghttp2_hd_inflater;

namespace otlp_arrow::service::internal {

/// \brief Whether `bytes` start like a zstd frame (magic 28 b5 2f fd). A
/// BatchArrowRecords never does: 0x28 would be field 5 with wire type 0, and the
/// message has no field 5.
inline bool LooksLikeZstd(std::string_view bytes) {
  return bytes.size() >= 4 && bytes[0] == '\x28' && bytes[1] == '\xb5' &&
         bytes[2] == '\x2f' && bytes[3] == '\xfd';
}

/// \brief The message as the sender serialized it. The Collector's otelarrow exporter
/// compresses each message with zstd under the gRPC encoding `zstdarrow<level>` (its
/// default), which gRPC C++ does not know, so the receiver gets the message as sent and
/// undoes it here; gzip the same (the receiver turns gRPC's own decompression off, see
/// OtlpGrpcReceiver). Anything else is taken as uncompressed and returned as it is.
/// `*scratch` holds the decompressed bytes the result points into.
///
/// Status::CapacityError when the decompressed message would pass `max_bytes` (checked
/// while decompressing, so a small bomb costs at most `max_bytes`); Status::Invalid
/// when the bytes do not decompress.
arrow::Result<std::string_view> DecompressOtapMessage(std::string_view message,
                                                      int64_t max_bytes,
                                                      std::string* scratch);

/// \brief One stream's HPACK decoder for BatchArrowRecords.headers: the exporter codes
/// them with one HPACK encoder per gRPC stream, whose dynamic table (4096 bytes) carries
/// over from one batch to the next, so every block of the stream must be decoded, in
/// order. nghttp2's inflater does the decoding.
class HpackHeaderDecoder {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  /// \brief `max_header_bytes` bounds the names and values of one block together.
  static arrow::Result<std::unique_ptr<HpackHeaderDecoder>> Make(
      int64_t max_header_bytes = 64 * 1024);
  ~HpackHeaderDecoder();
  HpackHeaderDecoder(const HpackHeaderDecoder&) = delete;
  HpackHeaderDecoder& operator=(const HpackHeaderDecoder&) = delete;

  /// \brief The headers of one block, in order, names as sent (HPACK names are lower
  /// case). Status::Invalid for a block that does not decode or passes the bound; the
  /// decoder is then unusable (its table no longer follows the sender's).
  arrow::Result<Headers> Decode(std::string_view block);

 private:
  HpackHeaderDecoder(nghttp2_hd_inflater* inflater, int64_t max_header_bytes);
  nghttp2_hd_inflater* inflater_;
  const int64_t max_header_bytes_;
  bool broken_ = false;
};

/// \brief A serialized BatchStatus {batch_id, status_code, status_message}; the message
/// is made valid UTF-8 (proto3 strings must be).
std::string EncodeBatchStatus(int64_t batch_id, int status_code,
                              std::string_view message);

}  // namespace otlp_arrow::service::internal
