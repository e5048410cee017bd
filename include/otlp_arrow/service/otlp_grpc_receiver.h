// SPDX-License-Identifier: Apache-2.0
// The OTLP/gRPC trace receiver:
// opentelemetry.proto.collector.trace.v1.TraceService/Export, and on the same port OTAP's
// opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces, in front of a
// pipeline::TraceIngest.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/service/otlp_receiver_stats.h"
#include "otlp_arrow/service/request_memory_budget.h"

namespace otlp_arrow::service {

/// \brief Settings of an OtlpGrpcReceiver.
struct OtlpGrpcReceiverOptions {
  /// \brief Where to listen, `host:port` (`[v6addr]:port` for IPv6). Port 0 picks a
  /// free port; OtlpGrpcReceiver::port() tells which. OTLP's default port is 4317.
  std::string endpoint = "127.0.0.1:4317";

  /// \brief PEM certificate chain of the server; with `tls_key_pem` the receiver
  /// serves TLS only. Both empty means plaintext.
  std::string tls_cert_pem;

  /// \brief PEM private key matching `tls_cert_pem`.
  std::string tls_key_pem;

  /// \brief PEM CA bundle of the clients; when set, clients must present a certificate
  /// signed by it (mTLS). Needs TLS.
  std::string client_ca_pem;

  /// \brief Largest accepted request message, both as sent (gRPC checks that) and after
  /// inflating a gzip-compressed one (the receiver checks that, and stops inflating
  /// there). Either is refused with RESOURCE_EXHAUSTED without RetryInfo, so that OTLP
  /// clients do not retry it. 4 MiB is gRPC's and the Collector's default.
  int64_t max_receive_message_bytes = int64_t{4} << 20;

  /// \brief HTTP/2 streams (calls) a client connection may have open at once; 0 leaves
  /// gRPC's default (no limit).
  int max_concurrent_streams = 0;

  /// \brief Threads that run Export calls. Each call blocks its thread for as long as
  /// TraceIngest does (at most the pipeline's wait bound); calls beyond this many wait
  /// in gRPC until a thread is free, which is the backpressure towards the clients. 0
  /// means the number of hardware threads (at least 2).
  int num_threads = 0;

  /// \brief RetryInfo delay sent when TraceIngest asks for a retry
  /// (kQueueFull, kShuttingDown) without saying when, and with a refusal for memory.
  std::chrono::milliseconds default_retry_after{1000};

  /// \brief The bytes of requests being decoded, shared with the other receivers of
  /// the process. A call reserves its message, its copy or inflated form and the cost
  /// of encoding its spans before it does any of that, and gives them back once
  /// answered; a call that does not fit is refused with RESOURCE_EXHAUSTED and RetryInfo
  /// (retryable). Null: no limit.
  std::shared_ptr<RequestMemoryBudget> memory_budget;

  /// \brief What gRPC's transport may hold of messages not yet handed to a call
  /// (grpc::ResourceQuota): HTTP/2 frames being read and messages waiting for a thread.
  /// Near it gRPC shrinks its flow-control windows, so that clients send more slowly;
  /// under heavy pressure it may also cancel streams or close idle connections. 0:
  /// gRPC's default (no limit).
  int64_t transport_memory_bytes = 0;

  /// \brief Serve OTAP's ArrowTracesService/ArrowTraces beside OTLP, as the Collector's
  /// otelarrow receiver does on its port, so that its otelarrow exporter can send here.
  bool otap = true;

  /// \brief OTAP streams open at once; a stream beyond it ends at once with UNAVAILABLE
  /// (the exporter opens another later). Each holds up to
  /// `otap_max_stream_dictionary_bytes` of dictionaries. 0: no limit.
  int max_otap_streams = 64;

  /// \brief Dictionary memory of one OTAP stream (the Collector's
  /// `arrow.memory_limit_mib`); a stream passing it ends with RESOURCE_EXHAUSTED and its
  /// last batch is answered UNAVAILABLE (the exporter sends it again on a new stream).
  int64_t otap_max_stream_dictionary_bytes = int64_t{128} << 20;

  /// \brief An OTAP stream whose client sends nothing for this long (all its batches
  /// answered) is cancelled, freeing its slot and dictionaries. Longer than the
  /// Collector exporter's stream lifetime (30 s), so that its streams end by themselves
  /// first. 0: never.
  std::chrono::milliseconds otap_stream_idle_timeout{120'000};

  /// \brief When set, every call must carry `authorization: Bearer <bearer_token>`: as
  /// gRPC metadata of an Export call; as metadata of an ArrowTraces call or in the
  /// HPACK headers of each of its BatchArrowRecords (where the Collector's exporter puts
  /// its per-RPC credentials). Export without it is UNAUTHENTICATED; an OTAP batch is
  /// answered UNAUTHENTICATED and the stream stays up. Empty: no check.
  std::string bearer_token;

  /// \brief Checks the endpoint, that the TLS fields go together, and the ranges above;
  /// OtlpGrpcReceiver::Make() calls it.
  arrow::Status Validate() const;

  /// \brief The values above.
  static OtlpGrpcReceiverOptions Defaults() { return {}; }
};

/// \brief OTLP/gRPC server of the trace pipeline (OTLP specification, "OTLP/gRPC").
///
/// Serves the unary `opentelemetry.proto.collector.trace.v1.TraceService/Export`. The
/// request message is not parsed here: its bytes go to TraceIngest::IngestOtlpProtobuf,
/// which parses them once, on its own cheaper path.
///
/// Compression: clients may send gzip (the only compression OTLP uses; deflate is
/// turned off). gRPC's own decompression is turned off, because gRPC 1.51 inflates a
/// message whole before comparing its size with the limit (a 4 MiB message of zeros
/// would take 4 GiB); the receiver inflates a gzip message itself and stops at
/// `max_receive_message_bytes`. It recognises one by its gzip magic bytes (1f 8b), which
/// an uncompressed protobuf message cannot start with; a message that does not inflate
/// is INVALID_ARGUMENT.
///
/// The answer of TraceIngest becomes the call's status:
///
/// | IngestCode     | gRPC status        | details (grpc-status-details-bin)          |
/// |----------------|--------------------|--------------------------------------------|
/// | kAccepted      | OK                 | response: empty ExportTraceServiceResponse |
/// | kInvalid       | INVALID_ARGUMENT   | none; not retryable                        |
/// | kQueueFull     | RESOURCE_EXHAUSTED | RetryInfo{retry_delay}: clients retry      |
/// | kTooLarge      | RESOURCE_EXHAUSTED | none: clients must not retry the same data |
/// | kShuttingDown  | UNAVAILABLE        | RetryInfo{retry_delay}                     |
///
/// The message of every error is IngestResult::message. Per the OTLP specification a
/// client treats RESOURCE_EXHAUSTED as retryable only when the status carries a
/// google.rpc.RetryInfo, so a full queue carries one (retry_delay =
/// IngestResult::retry_after, or `default_retry_after`) and a request that can never
/// fit does not. The details are a google.rpc.Status {code, message, details: [Any
/// {type.googleapis.com/google.rpc.RetryInfo}]}, as gRPC's richer error model has it.
///
/// **OTAP.** With `otap`, ArrowTracesService/ArrowTraces is served on the same port (see
/// docs/otap.md). Per stream: the message's own zstd (the Collector's `zstdarrow<N>`
/// gRPC encoding, which gRPC C++ does not know and hands over as sent) or gzip is undone
/// by the receiver within `max_receive_message_bytes`; the HPACK headers are decoded
/// with the stream's table; the payloads are decoded with the stream's Arrow IPC state
/// (convert::OtapTraceStreamDecoder) and handed to `otap_ingest`; each
/// BatchArrowRecords is answered with one BatchStatus once TraceIngest has taken it:
///
/// | IngestCode / event                    | BatchStatus        | the exporter       |
/// |---------------------------------------|--------------------|--------------------|
/// | kAccepted                             | OK                 | done               |
/// | kInvalid, kTooLarge, bad payloads     | INVALID_ARGUMENT   | drops the batch    |
/// | kQueueFull, kShuttingDown, kUnavailable, memory budget full | UNAVAILABLE | retries
/// | | wrong or missing bearer token         | UNAUTHENTICATED    | stream breaks      |
///
/// A message that does not decompress or parse, a bad HPACK block, or a stream whose
/// IPC state passes its limit ends the call with INVALID_ARGUMENT, RESOURCE_EXHAUSTED
/// (the batches not answered are sent again on a new stream). When the client
/// half-closes, the batches read are answered and the call ends OK.
///
/// Thread-safe: Stats() and Shutdown() may be called from any thread.
class OtlpGrpcReceiver {
 public:
  /// \brief Checks `options` (Status::Invalid naming what is wrong) and makes a
  /// receiver that Start() starts.
  /// \param[in] options where to listen, security and limits
  /// \param[in] ingest where requests go; required, thread-safe
  /// \param[in] otap_ingest where OTAP batches go; null: `ingest`
  static arrow::Result<std::unique_ptr<OtlpGrpcReceiver>> Make(
      OtlpGrpcReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest,
      std::shared_ptr<pipeline::TraceIngest> otap_ingest = nullptr);

  /// \brief Shuts down (without a deadline) if still running.
  ~OtlpGrpcReceiver();
  OtlpGrpcReceiver(const OtlpGrpcReceiver&) = delete;
  OtlpGrpcReceiver& operator=(const OtlpGrpcReceiver&) = delete;

  /// \brief Binds the endpoint and starts serving on background threads.
  /// Status::Invalid for unusable TLS material, Status::IOError when the address cannot
  /// be bound. Call once.
  arrow::Status Start();

  /// \brief The bound port (the real one when the endpoint asked for port 0); valid
  /// after Start().
  int port() const;

  /// \brief Stops accepting calls and waits for the running ones to end. Calls still
  /// running at `deadline` are cancelled: their clients see UNAVAILABLE (and retry), and
  /// a thread blocked in TraceIngest drops its answer once TraceIngest returns, so spans
  /// the pipeline took then may come again. Then stops the threads. Idempotent; without
  /// a deadline it waits for as long as calls run.
  arrow::Status Shutdown(
      std::optional<std::chrono::system_clock::time_point> deadline = std::nullopt);

  /// \brief A snapshot of the counters (protocol `grpc`).
  OtlpReceiverStats Stats() const;

  /// \brief A snapshot of the OTAP counters (its batches counted as requests).
  OtapReceiverStats OtapStats() const;

  const OtlpGrpcReceiverOptions& options() const;

 private:
  class Impl;
  explicit OtlpGrpcReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::service
