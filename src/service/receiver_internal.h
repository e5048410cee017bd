// SPDX-License-Identifier: Apache-2.0
// What the OTLP receivers share: google.rpc.Status encoding, counters, endpoints.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <arrow/result.h>

#include "otlp_arrow/pipeline/trace_ingest.h"

struct z_stream_s;
#include "otlp_arrow/service/otlp_receiver_stats.h"

namespace otlp_arrow::service::internal {

/// gRPC status codes (grpc/status.h), written here so that the HTTP receiver and the
/// encoders need no gRPC header.
enum RpcCode : int32_t {
  kRpcOk = 0,
  kRpcInvalidArgument = 3,
  kRpcNotFound = 5,
  kRpcResourceExhausted = 8,
  kRpcInternal = 13,
  kRpcUnimplemented = 12,
  kRpcUnavailable = 14,
};

/// How a receiver answers one IngestCode.
struct IngestAnswer {
  int32_t rpc_code;
  int http_status;
  /// Whether the client is told when to retry (gRPC RetryInfo, HTTP Retry-After).
  bool retry;
};
IngestAnswer AnswerFor(pipeline::IngestCode code);

/// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD: the message
/// goes into proto3 `string` fields, which strict parsers (Go's) refuse otherwise, and
/// may quote bytes of the refused request.
std::string ValidUtf8(std::string_view text);

/// The delay to announce: `retry_after` when positive, else `fallback`.
std::chrono::milliseconds RetryDelay(std::chrono::milliseconds retry_after,
                                     std::chrono::milliseconds fallback);

/// google.rpc.Status in protobuf wire format (googleapis google/rpc/status.proto):
///   Status    { int32 code = 1; string message = 2; repeated google.protobuf.Any
///               details = 3; }
///   Any       { string type_url = 1; bytes value = 2; }
/// and, when `retry_delay` is set, one detail
///   RetryInfo { google.protobuf.Duration retry_delay = 1; }
///             (google/rpc/error_details.proto, type URL
///             type.googleapis.com/google.rpc.RetryInfo)
///   Duration  { int64 seconds = 1; int32 nanos = 2; }
/// Written by hand: these few fields are stable, and vendoring googleapis for them
/// would add two protos and a generated library to the build.
std::string EncodeRpcStatus(int32_t code, std::string_view message,
                            std::optional<std::chrono::milliseconds> retry_delay);

/// google.rpc.Status in the protobuf JSON mapping: {"code":3,"message":"..."}.
std::string EncodeRpcStatusJson(int32_t code, std::string_view message);

/// google.rpc.RetryInfo{retry_delay}, the detail EncodeRpcStatus carries.
std::string EncodeRetryInfo(std::chrono::milliseconds retry_delay);

inline constexpr std::string_view kRetryInfoTypeUrl =
    "type.googleapis.com/google.rpc.RetryInfo";

/// Inflates a gzip stream (RFC 1952; several members one after another, as the RFC
/// allows) chunk by chunk into a string that never grows past `max_output` bytes: a
/// small body that inflates to gigabytes costs at most `max_output` memory.
class GzipInflater {
 public:
  enum class Result { kOk, kTooLarge, kCorrupt };

  explicit GzipInflater(uint64_t max_output);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  /// Inflates the next chunk of the stream, appending to `out`. kTooLarge when `out`
  /// would pass `max_output` (it then holds what fitted); kCorrupt when the bytes are
  /// not gzip. After either, the inflater must not be used again.
  Result Inflate(std::string_view input, std::string* out);

  /// Whether the input so far ends where a gzip member ends (false for no input).
  bool Complete() const { return members_ > 0 && !in_member_; }

 private:
  const uint64_t max_output_;
  z_stream_s* stream_;
  bool initialized_ = false;
  bool in_member_ = false;
  int members_ = 0;
};

/// Whether `bytes` start like a gzip stream (ID1 ID2 = 1f 8b). An uncompressed
/// protobuf message never does: 0x1f would be a tag of wire type 7, which does not
/// exist.
inline bool LooksLikeGzip(std::string_view bytes) {
  return bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b';
}

/// The two encodings of an OTLP request body.
enum class BodyEncoding { kProtobuf, kJson };

/// What decoding a body of `decoded_bytes` into a span-table batch costs beyond the
/// body itself, at most: the Arrow builders (and for JSON the document and protobuf
/// message parsed from it) until the batch is queued (docs/operations.md, "Memory").
int64_t DecodeCostBytes(BodyEncoding encoding, int64_t decoded_bytes);

/// Why a request was refused when the RequestMemoryBudget was spent (retryable), and
/// when the request alone needs `needed` bytes, more than all of it (not retryable).
inline constexpr std::string_view kBusyMessage =
    "the gateway holds as many request bytes as it may (limits.max_inflight_bytes); "
    "retry later";
std::string NeverFitsMessage(int64_t needed);

/// The counters behind OtlpReceiverStats, updated from many threads.
class ReceiverCounters {
 public:
  void AddRequest(bool compressed);
  /// Bytes of a request body as it arrived / after decompression.
  void AddWireBytes(int64_t bytes);
  void AddDecompressedBytes(int64_t bytes);
  /// The outcome of a request TraceIngest answered.
  void AddResult(const pipeline::IngestResult& result);
  /// Outcomes decided by the receiver itself (the pipeline never saw the request).
  void AddRefusedInvalid();
  void AddRefusedTooLarge();
  /// Refused because the RequestMemoryBudget was spent.
  void AddRefusedMemory();
  void AddFailed();

  OtlpReceiverStats Snapshot() const;

 private:
  using Counter = std::atomic<int64_t>;
  static void Add(Counter& counter, int64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  Counter requests_{0};
  Counter requests_accepted_{0};
  Counter requests_refused_invalid_{0};
  Counter requests_refused_queue_full_{0};
  Counter requests_refused_too_large_{0};
  Counter requests_refused_shutting_down_{0};
  Counter requests_refused_unavailable_{0};
  Counter requests_refused_memory_{0};
  Counter requests_failed_{0};
  Counter requests_compressed_{0};
  Counter spans_received_{0};
  Counter spans_accepted_{0};
  Counter spans_refused_invalid_{0};
  Counter spans_refused_queue_full_{0};
  Counter spans_refused_too_large_{0};
  Counter spans_refused_shutting_down_{0};
  Counter spans_refused_unavailable_{0};
  Counter bytes_received_wire_{0};
  Counter bytes_received_decompressed_{0};
};

}  // namespace otlp_arrow::service::internal
