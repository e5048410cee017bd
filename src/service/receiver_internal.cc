// SPDX-License-Identifier: Apache-2.0

#include "receiver_internal.h"

#include <algorithm>
#include <array>
#include <limits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

namespace otlp_arrow::service::internal {

using pipeline::IngestCode;

namespace {
// Peak bytes of decoding per body byte (DecodeCostBytes), measured (docs/operations.md,
// "Memory"): protobuf of small spans builds Arrow arrays of up to 4.5 times its size;
// JSON is parsed into a document and a protobuf message first, up to 16 times its size.
constexpr int64_t kProtobufDecodeFactor = 5;
constexpr int64_t kJsonDecodeFactor = 16;
}  // namespace

IngestAnswer AnswerFor(IngestCode code) {
  switch (code) {
    case IngestCode::kAccepted:
      return {kRpcOk, 200, false};
    case IngestCode::kInvalid:
      return {kRpcInvalidArgument, 400, false};
    case IngestCode::kQueueFull:
      return {kRpcResourceExhausted, 429, true};
    case IngestCode::kTooLarge:
      // No RetryInfo: the same request would be refused again, and OTLP clients retry
      // RESOURCE_EXHAUSTED only when RetryInfo says they may.
      return {kRpcResourceExhausted, 413, false};
    case IngestCode::kShuttingDown:
    case IngestCode::kUnavailable:
      return {kRpcUnavailable, 503, true};
  }
  // An IngestCode this receiver does not know: fail the request, never crash.
  return {kRpcInternal, 500, false};
}

namespace {

// Length of the UTF-8 sequence starting at `s[0]` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continuation = [&](size_t i) {
    return i < s.size() && (byte(i) & 0xC0) == 0x80;
  };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (b0 == 0xED && byte(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Protobuf wire types (a tag is field_number << 3 | wire_type).
constexpr uint32_t kWireTypeVarint = 0;
constexpr uint32_t kWireTypeLengthDelimited = 2;

void WriteLengthDelimited(google::protobuf::io::CodedOutputStream& out, int field,
                          std::string_view bytes) {
  out.WriteTag(static_cast<uint32_t>(field) << 3 | kWireTypeLengthDelimited);
  out.WriteVarint32(static_cast<uint32_t>(bytes.size()));
  out.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

void WriteVarintField(google::protobuf::io::CodedOutputStream& out, int field,
                      uint64_t value) {
  out.WriteTag(static_cast<uint32_t>(field) << 3 | kWireTypeVarint);
  out.WriteVarint64(value);
}

template <typename Write>
std::string Encode(Write write) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    write(out);
  }  // the CodedOutputStream flushes into `bytes` when destroyed
  return bytes;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t n = Utf8SequenceLength(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

std::chrono::milliseconds RetryDelay(std::chrono::milliseconds retry_after,
                                     std::chrono::milliseconds fallback) {
  return retry_after.count() > 0 ? retry_after : fallback;
}

std::string EncodeRetryInfo(std::chrono::milliseconds retry_delay) {
  const int64_t ms = std::max<int64_t>(0, retry_delay.count());
  const std::string duration = Encode([&](auto& out) {
    if (ms / 1000 != 0) WriteVarintField(out, 1, static_cast<uint64_t>(ms / 1000));
    if (ms % 1000 != 0) {
      WriteVarintField(out, 2, static_cast<uint64_t>((ms % 1000) * 1'000'000));
    }
  });
  return Encode([&](auto& out) { WriteLengthDelimited(out, 1, duration); });
}

std::string EncodeRpcStatus(int32_t code, std::string_view message,
                            std::optional<std::chrono::milliseconds> retry_delay) {
  const std::string text = ValidUtf8(message);
  std::string any;
  if (retry_delay.has_value()) {
    const std::string retry_info = EncodeRetryInfo(*retry_delay);
    any = Encode([&](auto& out) {
      WriteLengthDelimited(out, 1, kRetryInfoTypeUrl);
      WriteLengthDelimited(out, 2, retry_info);
    });
  }
  return Encode([&](auto& out) {
    // proto3 leaves default values out of the wire format.
    if (code != 0) {
      // int32 fields encode negative values as 10-byte varints, hence the sign extension.
      WriteVarintField(out, 1, static_cast<uint64_t>(static_cast<int64_t>(code)));
    }
    if (!text.empty()) WriteLengthDelimited(out, 2, text);
    if (!any.empty()) WriteLengthDelimited(out, 3, any);
  });
}

std::string EncodeRpcStatusJson(int32_t code, std::string_view message) {
  nlohmann::json status = nlohmann::json::object();
  if (code != 0) status["code"] = code;
  if (!message.empty()) status["message"] = ValidUtf8(message);
  return status.dump();
}

GzipInflater::GzipInflater(uint64_t max_output)
    : max_output_(max_output), stream_(new z_stream{}) {
  // 16 + MAX_WBITS: a gzip wrapper, not zlib's.
  initialized_ = inflateInit2(stream_, 16 + MAX_WBITS) == Z_OK;
}

GzipInflater::~GzipInflater() {
  if (initialized_) inflateEnd(stream_);
  delete stream_;
}

GzipInflater::Result GzipInflater::Inflate(std::string_view input, std::string* out) {
  if (!initialized_) return Result::kCorrupt;
  std::array<char, 64 * 1024> buffer;
  stream_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream_->avail_in = static_cast<uInt>(input.size());
  while (true) {
    if (!in_member_) {
      if (stream_->avail_in == 0) return Result::kOk;
      // Another member follows the one that ended.
      if (members_ > 0 && inflateReset(stream_) != Z_OK) return Result::kCorrupt;
      in_member_ = true;
    }
    stream_->next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream_->avail_out = static_cast<uInt>(buffer.size());
    const uInt input_before = stream_->avail_in;
    const int ret = inflate(stream_, Z_NO_FLUSH);
    const size_t produced = buffer.size() - stream_->avail_out;
    if (ret == Z_STREAM_END) {
      in_member_ = false;
      ++members_;
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      return Result::kCorrupt;
    }
    if (produced > 0) {
      if (out->size() + produced > max_output_) return Result::kTooLarge;
      out->append(buffer.data(), produced);
    }
    if (in_member_ && stream_->avail_in == 0 && stream_->avail_out > 0) {
      return Result::kOk;  // the chunk is all taken in; the member goes on in the next
    }
    if (produced == 0 && stream_->avail_in == input_before) {
      // No progress (Z_BUF_ERROR): fine once the chunk is used up, else corrupt.
      return stream_->avail_in == 0 ? Result::kOk : Result::kCorrupt;
    }
  }
}

int64_t DecodeCostBytes(BodyEncoding encoding, int64_t decoded_bytes) {
  const int64_t factor =
      encoding == BodyEncoding::kJson ? kJsonDecodeFactor : kProtobufDecodeFactor;
  return decoded_bytes * factor;
}

std::string NeverFitsMessage(int64_t needed) {
  return "the request needs " + std::to_string(needed) +
         " bytes to read and decode, more than limits.max_inflight_bytes";
}

void ReceiverCounters::AddRequest(bool compressed) {
  Add(requests_, 1);
  if (compressed) Add(requests_compressed_, 1);
}

void ReceiverCounters::AddWireBytes(int64_t bytes) { Add(bytes_received_wire_, bytes); }

void ReceiverCounters::AddDecompressedBytes(int64_t bytes) {
  Add(bytes_received_decompressed_, bytes);
}

void ReceiverCounters::AddResult(const pipeline::IngestResult& result) {
  const int64_t spans = std::max<int64_t>(0, result.spans);
  Add(spans_received_, spans);
  switch (result.code) {
    case IngestCode::kAccepted:
      Add(requests_accepted_, 1);
      Add(spans_accepted_, spans);
      return;
    case IngestCode::kInvalid:
      Add(requests_refused_invalid_, 1);
      Add(spans_refused_invalid_, spans);
      return;
    case IngestCode::kQueueFull:
      Add(requests_refused_queue_full_, 1);
      Add(spans_refused_queue_full_, spans);
      return;
    case IngestCode::kTooLarge:
      Add(requests_refused_too_large_, 1);
      Add(spans_refused_too_large_, spans);
      return;
    case IngestCode::kShuttingDown:
      Add(requests_refused_shutting_down_, 1);
      Add(spans_refused_shutting_down_, spans);
      return;
    case IngestCode::kUnavailable:
      Add(requests_refused_unavailable_, 1);
      Add(spans_refused_unavailable_, spans);
      return;
  }
  Add(requests_failed_, 1);
}

void ReceiverCounters::AddRefusedInvalid() { Add(requests_refused_invalid_, 1); }
void ReceiverCounters::AddRefusedTooLarge() { Add(requests_refused_too_large_, 1); }
void ReceiverCounters::AddRefusedMemory() { Add(requests_refused_memory_, 1); }
void ReceiverCounters::AddFailed() { Add(requests_failed_, 1); }

OtlpReceiverStats ReceiverCounters::Snapshot() const {
  const auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
  OtlpReceiverStats s;
  s.requests = get(requests_);
  s.requests_accepted = get(requests_accepted_);
  s.requests_refused_invalid = get(requests_refused_invalid_);
  s.requests_refused_queue_full = get(requests_refused_queue_full_);
  s.requests_refused_too_large = get(requests_refused_too_large_);
  s.requests_refused_shutting_down = get(requests_refused_shutting_down_);
  s.requests_refused_unavailable = get(requests_refused_unavailable_);
  s.requests_refused_memory = get(requests_refused_memory_);
  s.requests_failed = get(requests_failed_);
  s.requests_compressed = get(requests_compressed_);
  s.spans_received = get(spans_received_);
  s.spans_accepted = get(spans_accepted_);
  s.spans_refused_invalid = get(spans_refused_invalid_);
  s.spans_refused_queue_full = get(spans_refused_queue_full_);
  s.spans_refused_too_large = get(spans_refused_too_large_);
  s.spans_refused_shutting_down = get(spans_refused_shutting_down_);
  s.spans_refused_unavailable = get(spans_refused_unavailable_);
  s.bytes_received_wire = get(bytes_received_wire_);
  s.bytes_received_decompressed = get(bytes_received_decompressed_);
  return s;
}

}  // namespace otlp_arrow::service::internal
